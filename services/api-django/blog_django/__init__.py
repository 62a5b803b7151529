"""The blog API on Django: sync views in gthread workers, translating requests for blogcore."""
