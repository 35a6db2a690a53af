"""Discovery imports: member rosters and external lists, uploaded, watched and reported."""

from django.urls import URLPattern, path

from .views import imports

urlpatterns: list[URLPattern] = [
    path("imports/rosters/", imports.roster_imports, name="roster-imports"),
    path("imports/rosters/<int:pk>/", imports.roster_import, name="roster-import"),
    path(
        "imports/rosters/<int:pk>/mapping/",
        imports.roster_import_mapping,
        name="roster-import-mapping",
    ),
    path(
        "imports/rosters/<int:pk>/resume/",
        imports.roster_import_resume,
        name="roster-import-resume",
    ),
    path(
        "imports/rosters/<int:pk>/rejected/",
        imports.roster_import_rejected,
        name="roster-import-rejected",
    ),
    path("imports/external-lists/", imports.list_imports, name="list-imports"),
    path("imports/external-lists/<int:pk>/", imports.list_import, name="list-import"),
    path(
        "imports/external-lists/<int:pk>/mapping/",
        imports.list_import_mapping,
        name="list-import-mapping",
    ),
    path(
        "imports/external-lists/<int:pk>/resume/",
        imports.list_import_resume,
        name="list-import-resume",
    ),
    path(
        "imports/external-lists/<int:pk>/rejected/",
        imports.list_import_rejected,
        name="list-import-rejected",
    ),
]
