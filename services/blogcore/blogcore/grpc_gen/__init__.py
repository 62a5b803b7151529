"""GENERATED gRPC code for proto/inference.proto: do not edit, run scripts/gen_proto.sh (see README.md)."""
