"""The gRPC inference service: the four blog models behind one dynamic batcher per task."""
