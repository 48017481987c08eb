"""fdi-drift: keeps ROMA Connect FDI tasks and DRS jobs in line with a desired state in git."""
