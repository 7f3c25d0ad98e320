"""Generated protobuf code for protos/kernel.proto (see vaos.governance.protogen)."""
