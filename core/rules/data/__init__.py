"""Reference data the rules compare with, each table in one module with the source it was taken from."""
