"""Follow-ups, supervision tasks and the daily digest."""

from django.urls import URLPattern, path

from .views import tasks

urlpatterns: list[URLPattern] = [
    path("follow-ups/", tasks.follow_up_list, name="follow-up-list"),
    path("follow-ups/<int:pk>/", tasks.follow_up_detail, name="follow-up-detail"),
    path("files/<int:pk>/follow-ups/new/", tasks.follow_up_new, name="follow-up-new"),
    path("tasks/", tasks.task_list, name="task-list"),
    path("tasks/new/", tasks.task_new, name="task-new"),
    path("tasks/<int:pk>/", tasks.task_detail, name="task-detail"),
    path("tasks/<int:pk>/findings/", tasks.task_finding, name="task-finding"),
    path("tasks/<int:pk>/submit/", tasks.task_submit, name="task-submit"),
    path("tasks/<int:pk>/close/", tasks.task_close, name="task-close"),
    path("findings/<int:pk>/", tasks.finding_record, name="finding-record"),
    path("findings/<int:pk>/rectify/", tasks.finding_rectify, name="finding-rectify"),
    path("digest/", tasks.digest_today, name="digest"),
]
