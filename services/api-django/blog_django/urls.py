"""Routes of the contract; Django's <int:post_id> is normalised to /posts/{post_id} in metrics."""

from django.urls import path

from blog_django import views
from blogcore.ai import Task

urlpatterns = [
    path("health", views.HealthView.as_view()),
    path("ready", views.ReadyView.as_view()),
    path("metrics", views.MetricsView.as_view()),
    path("posts", views.PostsView.as_view()),
    path("posts/<int:post_id>", views.PostView.as_view()),
    *(path(f"ai/{task}", views.AITaskView.as_view(task=task)) for task in Task),
]

handler400 = "blog_django.views.bad_request"
handler404 = "blog_django.views.not_found"
handler500 = "blog_django.views.server_error"
