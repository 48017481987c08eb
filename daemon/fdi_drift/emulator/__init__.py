"""A stand-in for the Huawei Cloud FDI, DRS and IAM endpoints, sharing no code with the daemon."""
