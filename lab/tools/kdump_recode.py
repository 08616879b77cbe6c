"""Re-encode a kdump-compressed dump's pages with another codec (placeholder)."""


def recode(src, dst, codec):
    raise NotImplementedError(f"recode to {codec}")
