"""Generated from proto/fedgate/v1 by tools/gen_proto.py. Do not edit."""
