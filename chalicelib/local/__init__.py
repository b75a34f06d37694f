"""Local tooling: the AWS emulator launcher and resource provisioning (not used in Lambda)."""
