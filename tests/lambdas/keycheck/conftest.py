from tests.softhsm_support import key_store, softhsm

__all__ = ["key_store", "softhsm"]
