"""Error-message pieces shared by the model backends."""

FAIL_FAST_HINT = "Set HF_HUB_OFFLINE=1 to fail at once instead of retrying the network for about a minute."


def sentence(err: BaseException) -> str:
    """An exception's text ending in exactly one full stop."""
    return str(err).rstrip().rstrip(".") + "."
