from django.urls import URLPattern, URLResolver, include, path

# Uploaded files (home-visit photos) are never served from MEDIA_URL: the scoped
# `attachment` view serves them to users who may see the file, and no one else.
urlpatterns: list[URLPattern | URLResolver] = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/", include("gonghui.api.urls")),
    path("", include("gonghui.web.urls")),
]
