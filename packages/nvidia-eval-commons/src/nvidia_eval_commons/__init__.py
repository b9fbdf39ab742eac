"""nvidia_eval_commons: typed configs and the result schema shared by the NeMo Eval stack."""

from .errors import ConfigError, MissingExtraError, NvidiaEvalCommonsError

__version__ = "0.1.0"
__all__ = ["ConfigError", "MissingExtraError", "NvidiaEvalCommonsError", "__version__"]
