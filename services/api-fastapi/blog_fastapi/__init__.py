"""The blog API on FastAPI: async AI routes, sync storage routes in the threadpool, under uvicorn workers."""

from blog_fastapi.app import create_app

__all__ = ["create_app"]
