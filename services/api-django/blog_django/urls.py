"""Routes of the contract; Django's <post_id:post_id> is normalised to /posts/{post_id} in metrics."""

from django.urls import path, register_converter

from blog_django import views
from blogcore import contract
from blogcore.ai import Task


class PostIdConverter:
    """A post id in a path: the contract's digits only, so an absurdly long id is an unknown route like elsewhere."""

    regex = contract.POST_ID_PATH_REGEX

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(PostIdConverter, "post_id")

urlpatterns = [
    path("health", views.HealthView.as_view()),
    path("ready", views.ReadyView.as_view()),
    path("metrics", views.MetricsView.as_view()),
    path("posts", views.PostsView.as_view()),
    path("posts/<post_id:post_id>", views.PostView.as_view()),
    *(path(f"ai/{task}", views.AITaskView.as_view(task=task)) for task in Task),
]

handler400 = "blog_django.views.bad_request"
handler404 = "blog_django.views.not_found"
handler500 = "blog_django.views.server_error"
