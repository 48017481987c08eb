"""The only package that talks HTTP to Huawei Cloud (and the only importer of httpx)."""
