"""Scale out on Dask: embed large image collections and classify them on a cluster.

Needs the ``dask`` extra (``pip install "skclip-sage[dask]"``); importing this
package does not import dask (or torch) yet, each function does when called.

Model selection needs no helper: ``GridSearchCV`` and ``cross_validate`` over
:class:`~skclip_sage.SageZeroShotClassifier` run on a cluster under
``joblib.parallel_backend("dask")``. The estimators pickle without torch
objects, and each worker loads the model and encodes each text bank once
(per-process caches).
"""

from ._embedding import embed_images
from ._prediction import predict, predict_proba
from ._worker import worker_statistics

__all__ = ["embed_images", "predict", "predict_proba", "worker_statistics"]
