"""skclip_sage.distributed on a real two-process LocalCluster with the tiny local-dir model.

One cluster serves the whole module (worker start-up imports torch and open_clip,
the slow part); the test that kills a worker runs last.
"""

import importlib
import os
import signal
import subprocess
import sys
import threading
import time
import uuid

import numpy as np
import pytest

from skclip_sage import ClipImageEmbedder, SageZeroShotClassifier
from skclip_sage.distributed import embed_images, predict, predict_proba, worker_statistics
from skclip_sage.exceptions import UnreadableImagesError
from skclip_sage.io._cache import load_cached_array, save_cached_array

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")
pytest.importorskip("dask.bag")
pytest.importorskip("dask.dataframe")  # both reached below as dask.bag, dask.dataframe
distributed = pytest.importorskip("distributed")

N_IMAGES = 240
PARTITION_SIZE = 20
N_PARTITIONS = N_IMAGES // PARTITION_SIZE
# Worker and test processes run the same code on the same CPU, but with different
# thread counts (Dask sets OMP_NUM_THREADS=1), so sums may round differently.
ATOL = 1e-5
TEMPLATES = ["a photo of a {}.", "a drawing of a {}.", "a {} outside."]
LABELS = np.array(["cat", "dog", "bird"])[np.arange(N_IMAGES) % 3]


@pytest.fixture(scope="module")
def client():
    with dask.config.set({"distributed.worker.multiprocessing-method": "forkserver"}):
        # Worker processes fork from a server that has imported torch and open_clip
        # once (~10 s each on 2 cores), so starting two workers, and restarting the
        # one the last test kills, costs no further imports. Each worker is still its
        # own process with its own model registry.
        context = distributed.utils.get_mp_context()
        context.set_forkserver_preload(["distributed", "numpy", "torch", "open_clip", "skclip_sage._embedder"])
        cluster = distributed.LocalCluster(  # ":0": any free port, so parallel runs never collide
            n_workers=2,
            processes=True,
            threads_per_worker=1,
            host="127.0.0.1",
            dashboard_address=":0",
        )
        with distributed.Client(cluster) as dask_client:
            yield dask_client
        cluster.close(timeout=20)


@pytest.fixture(scope="module")
def image_paths(tmp_path_factory):
    from PIL import Image

    folder = tmp_path_factory.mktemp("distributed_images")
    pixels = np.random.default_rng(0).integers(0, 256, size=(N_IMAGES, 8, 8, 3), dtype=np.uint8)
    paths = [str(folder / f"image_{index:03d}.png") for index in range(N_IMAGES)]
    for path, image in zip(paths, pixels):
        Image.fromarray(image).save(path)
    return paths


@pytest.fixture(scope="module")
def embedder(tiny_model):
    return ClipImageEmbedder(tiny_model, pretrained=None, batch_size=16)


@pytest.fixture(scope="module")
def local_embeddings(embedder, image_paths):
    return ClipImageEmbedder(**embedder.get_params()).fit().transform(image_paths)


def statistics_delta(client, before):
    """Per worker, what changed in worker_statistics since ``before`` (a new worker: all of it)."""
    return {
        address: {name: value - before.get(address, {}).get(name, 0) for name, value in numbers.items()}
        for address, numbers in client.run(worker_statistics).items()
    }


def total(delta, name):
    return sum(numbers[name] for numbers in delta.values())


def wait_until(condition, failure, timeout=120):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, failure
        time.sleep(0.1)


def counted(client, compute):
    """``compute()``, and how many partitions the workers embedded and read from the cache meanwhile."""
    before = client.run(worker_statistics)
    result = compute()
    delta = statistics_delta(client, before)
    return result, total(delta, "partitions_embedded"), total(delta, "partitions_from_cache")


def test_importing_the_package_does_not_import_dask_or_torch():
    code = (
        "import sys, skclip_sage, skclip_sage.distributed\n"
        "skclip_sage.ClipImageEmbedder, skclip_sage.SageZeroShotClassifier\n"
        "print(sorted(name for name in ('dask', 'distributed', 'torch') if name in sys.modules))\n"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert completed.stdout.strip() == "[]"


def test_graph_carries_parameters_not_torch_objects(embedder, image_paths):
    import cloudpickle

    fitted = ClipImageEmbedder(**embedder.get_params()).fit()  # fitted: no probe task needed
    embeddings = embed_images(image_paths, fitted, partition_size=PARTITION_SIZE)
    # Pickled the way the client ships it: the model travels as its name, never as weights.
    graph_bytes = cloudpickle.dumps(dict(embeddings.__dask_graph__()))
    assert embedder.model.encode() in graph_bytes
    assert b"torch" not in graph_bytes


def test_rejects_encoder_objects_and_bad_arguments(embedder, image_paths):
    class ToyEncoder:
        pass

    with pytest.raises(ValueError, match="model must be an open_clip name"):
        embed_images(image_paths, ClipImageEmbedder(ToyEncoder()))
    with pytest.raises(TypeError, match="needs a ClipImageEmbedder"):
        embed_images(image_paths, SageZeroShotClassifier())
    with pytest.raises(ValueError, match="on_error"):
        embed_images(image_paths, ClipImageEmbedder(embedder.model, on_error="skip"))
    with pytest.raises(ValueError, match="partition_size must be a positive integer"):
        embed_images(image_paths, embedder, partition_size=0)
    with pytest.raises(ValueError, match="Repartition it instead"):
        embed_images(dask.bag.from_sequence(image_paths), embedder, partition_size=10)
    with pytest.raises(ValueError, match="single str"):
        embed_images(image_paths[0], embedder)
    embeddings = da.from_array(np.ones((4, 32), dtype=np.float32), chunks=2)
    with pytest.raises(ValueError, match="not fitted"):  # checked now, not on a worker
        predict(SageZeroShotClassifier(), embeddings)
    with pytest.raises(TypeError, match="dask array"):
        predict_proba(SageZeroShotClassifier(), np.ones((4, 32)))


def test_embeddings_match_one_process_and_each_worker_loads_the_model_once(
    client, embedder, image_paths, local_embeddings
):
    embeddings = embed_images(image_paths, embedder, partition_size=PARTITION_SIZE)  # unfitted: probes the width
    result, embedded, _ = counted(client, embeddings.compute)
    assert result.dtype == np.float32 and result.shape == (N_IMAGES, 32)
    np.testing.assert_allclose(result, local_embeddings, atol=ATOL)
    assert embedded == N_PARTITIONS
    for numbers in client.run(worker_statistics).values():
        # One configuration in this module, so never more than one load per process,
        # however many partitions (and tests) a worker has served.
        assert numbers["models_loaded"] <= 1
        assert numbers["models_loaded"] == 1 or numbers["partitions_embedded"] == 0


def test_bag_dataframe_and_array_inputs_keep_input_order(client, embedder, image_paths, local_embeddings):
    import pandas as pd

    reversed_paths = image_paths[::-1]
    inputs = [
        dask.bag.from_sequence(reversed_paths, npartitions=7),
        dask.dataframe.from_pandas(pd.Series(reversed_paths, name="path"), npartitions=5),
        dask.dataframe.from_pandas(pd.DataFrame({"path": reversed_paths}), npartitions=3),
        da.from_array(np.array(reversed_paths, dtype=object), chunks=50),
    ]
    results = dask.compute(*[embed_images(paths, embedder) for paths in inputs])
    for result in results:
        np.testing.assert_allclose(result, local_embeddings[::-1], atol=ATOL)


def test_unreadable_images_are_named_or_become_nan_rows(client, embedder, image_paths, local_embeddings, tmp_path):
    (tmp_path / "not_an_image.png").write_text("<html>this is not a PNG</html>")
    bad_positions = {7: str(tmp_path / "not_an_image.png"), 45: str(tmp_path / "missing.png")}
    paths = [bad_positions.get(position, path) for position, path in enumerate(image_paths[:60])]

    pattern = r"embed_images, partition \d of 3 \(0-based\), rows \d+ to \d+: ClipImageEmbedder could not read 1 of 20"
    with pytest.raises(UnreadableImagesError, match=pattern) as info:
        embed_images(paths, embedder, partition_size=PARTITION_SIZE).compute()
    # The first failing partition stops the run: either bad file, with its whole-input row.
    ((position, source, _),) = info.value.failures
    assert bad_positions[position] == source and source in str(info.value) and "on_error='warn'" in str(info.value)

    warning_embedder = ClipImageEmbedder(**{**embedder.get_params(), "on_error": "warn"})
    embeddings, failures = embed_images(paths, warning_embedder, partition_size=PARTITION_SIZE, return_failures=True)
    result, failure_list = dask.compute(embeddings, failures)
    assert [(position, source) for position, source, _ in failure_list] == sorted(bad_positions.items())
    assert "cannot identify image file" in failure_list[0][2]
    nan_rows = np.flatnonzero(np.isnan(result).any(axis=1))
    assert nan_rows.tolist() == sorted(bad_positions)
    good = np.setdiff1d(np.arange(len(paths)), nan_rows)
    np.testing.assert_allclose(result[good], local_embeddings[good], atol=ATOL)


def test_resume_cache_reads_finished_partitions(client, embedder, image_paths, local_embeddings, tmp_path):
    cache_dir = tmp_path / "resume"
    embeddings = embed_images(image_paths, embedder, partition_size=PARTITION_SIZE, cache_dir=cache_dir)

    # An interrupted run: only the first two partitions finished.
    assert counted(client, embeddings[: 2 * PARTITION_SIZE].compute)[1:] == (2, 0)
    resumed, embedded, from_cache = counted(client, embeddings.compute)
    assert (embedded, from_cache) == (N_PARTITIONS - 2, 2)
    np.testing.assert_allclose(resumed, local_embeddings, atol=ATOL)
    again, embedded, from_cache = counted(client, embeddings.compute)
    assert (embedded, from_cache) == (0, N_PARTITIONS)
    np.testing.assert_array_equal(again, resumed)
    cache_files = [path for path in cache_dir.rglob("*") if path.is_file() and path.name != "CACHEDIR.TAG"]
    assert len(cache_files) == N_PARTITIONS and all(path.suffix == ".npy" for path in cache_files)
    assert [path.parent for path in cache_dir.rglob("CACHEDIR.TAG")] == [cache_dir / "partition_embeddings"]


def test_a_bad_resume_entry_is_recomputed_not_returned(client, embedder, image_paths, local_embeddings, tmp_path):
    cache_dir = tmp_path / "resume"
    embeddings = embed_images(image_paths[:60], embedder, partition_size=PARTITION_SIZE, cache_dir=cache_dir)
    first = embeddings.compute()
    damaged = sorted(cache_dir.rglob("*.npy"))[1]
    producer, values = load_cached_array(damaged.parent.parent, damaged.stem)
    save_cached_array(damaged.parent.parent, damaged.stem, np.full_like(values, np.nan), producer)
    resumed, embedded, from_cache = counted(client, embeddings.compute)
    assert (embedded, from_cache) == (1, 2)  # the NaN partition ran again, on a worker
    np.testing.assert_allclose(resumed, first, atol=ATOL)
    np.testing.assert_allclose(resumed, local_embeddings[:60], atol=ATOL)


def test_embeddings_and_failures_computed_together_embed_each_partition_once(
    client, embedder, image_paths, local_embeddings, tmp_path
):
    # RELIABILITY 39: both outputs read the same partition tasks (it used to be 12 of 6).
    paths = list(image_paths[:120])
    paths[30] = str(tmp_path / "missing.png")
    warning_embedder = ClipImageEmbedder(**{**embedder.get_params(), "on_error": "warn"})
    embeddings, failures = embed_images(paths, warning_embedder, partition_size=PARTITION_SIZE, return_failures=True)
    before = client.run(worker_statistics)
    result, failure_list = dask.compute(embeddings, failures)
    delta = statistics_delta(client, before)
    assert (total(delta, "partitions_embedded"), total(delta, "images_embedded")) == (6, 120)
    assert [position for position, _, _ in failure_list] == [30]
    assert np.flatnonzero(np.isnan(result).any(axis=1)).tolist() == [30]
    good = np.arange(120) != 30
    np.testing.assert_allclose(result[good], local_embeddings[:120][good], atol=ATOL)


@pytest.fixture
def two_partitions_at_once(monkeypatch):
    """Make the partitions of a run embed at the same time: each waits in ``transform`` for the other.

    Both are then inside ``embed_partition`` together, the case where process-wide
    warning capture used to hand one partition's failures to the other.
    """
    arrived, finished = threading.Barrier(2, timeout=120), threading.Barrier(2, timeout=120)
    transform = ClipImageEmbedder.transform

    def transform_together(self, X):
        arrived.wait()
        try:
            return transform(self, X)
        finally:
            finished.wait()  # both have embedded (and reported) before either returns

    monkeypatch.setattr(ClipImageEmbedder, "transform", transform_together)


@pytest.mark.parametrize("runner", ["threaded scheduler", "two-thread worker"])
def test_failures_stay_with_their_partition_when_partitions_run_at_once(
    embedder, image_paths, local_embeddings, tmp_path, two_partitions_at_once, runner
):
    # Issue 17 item 2 (reliability case 42): failures travel with each partition's result.
    (tmp_path / "not_an_image.png").write_text("<html>not a PNG</html>")
    bad = {1: str(tmp_path / "not_an_image.png"), 6: str(tmp_path / "missing.png")}
    paths = [bad.get(position, path) for position, path in enumerate(image_paths[:8])]
    warning_embedder = ClipImageEmbedder(**{**embedder.get_params(), "on_error": "warn"}).fit()
    embeddings, failures = embed_images(paths, warning_embedder, partition_size=4, return_failures=True)
    if runner == "threaded scheduler":
        result, failure_list = dask.compute(embeddings, failures, scheduler="threads", num_workers=2)
    else:
        # In this process (so the fixture's wait reaches the worker's threads), over in-process comms.
        cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0")
        with cluster, distributed.Client(cluster, set_as_default=False) as two_threads:
            result, failure_list = two_threads.compute([embeddings, failures], sync=True)
    assert [(position, source) for position, source, _ in failure_list] == sorted(bad.items())
    assert "cannot identify image file" in failure_list[0][2] and "no such file" in failure_list[1][2]
    assert np.flatnonzero(np.isnan(result).any(axis=1)).tolist() == sorted(bad)
    good = [position for position in range(8) if position not in bad]
    np.testing.assert_allclose(result[good], local_embeddings[good], atol=ATOL)


def test_loader_processes_in_daemonic_workers_give_a_clear_error(client, embedder, image_paths):
    loader_embedder = ClipImageEmbedder(**{**embedder.get_params(), "num_workers": 2})
    with pytest.raises(ValueError, match="num_workers=0"):
        embed_images(image_paths[:4], loader_embedder).compute()


@pytest.fixture(scope="module")
def fitted_classifier(tiny_model, local_embeddings):
    return SageZeroShotClassifier(tiny_model, pretrained=None, templates=TEMPLATES, k=2).fit(local_embeddings, LABELS)


def test_predict_on_blocks_matches_local_predict(client, fitted_classifier, local_embeddings):
    # Chunked along columns too: the functions rechunk to whole rows.
    embeddings = da.from_array(local_embeddings, chunks=(50, 8))
    labels, proba = dask.compute(predict(fitted_classifier, embeddings), predict_proba(fitted_classifier, embeddings))
    np.testing.assert_array_equal(labels, fitted_classifier.predict(local_embeddings))
    np.testing.assert_allclose(proba, fitted_classifier.predict_proba(local_embeddings), atol=1e-6)


def test_nan_rows_are_named_and_can_be_dropped_first(fitted_classifier, local_embeddings):
    with_nan = local_embeddings.copy()
    with_nan[123] = np.nan
    embeddings = da.from_array(with_nan, chunks=50)
    message = r"In rows 100 to 149 of the dask array.*NaN or infinity in 1 of 50 rows \(23\)"
    with pytest.raises(ValueError, match=message):
        predict(fitted_classifier, embeddings).compute(scheduler="synchronous")
    readable = embeddings[da.isfinite(embeddings).all(axis=1)]  # unknown chunk sizes from here
    expected = fitted_classifier.predict_proba(np.delete(local_embeddings, 123, axis=0))
    proba = predict_proba(fitted_classifier, readable).compute(scheduler="synchronous")
    np.testing.assert_allclose(proba, expected, atol=1e-6)  # float32 sums over other block sizes


def test_grid_search_under_the_dask_joblib_backend_matches_local(client, tiny_model, local_embeddings):
    import joblib
    from sklearn.model_selection import GridSearchCV

    classifier = SageZeroShotClassifier(tiny_model, pretrained=None, templates=TEMPLATES)
    grid = {"selection": ["sage", "ensemble"], "k": [1, 2]}
    local = GridSearchCV(classifier, grid, cv=3).fit(local_embeddings, LABELS)
    with joblib.parallel_backend("dask"):
        remote = GridSearchCV(classifier, grid, cv=3).fit(local_embeddings, LABELS)
    np.testing.assert_allclose(remote.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"])
    assert remote.best_params_ == local.best_params_
    # The fits ran on the workers, which encoded the prompts there and kept them.
    text_banks = client.run(lambda: len(importlib.import_module("skclip_sage.io").memory_store(0)))
    assert sum(text_banks.values()) >= 1
    for numbers in client.run(worker_statistics).values():
        assert numbers["models_loaded"] <= 1


def test_a_worker_killed_mid_run_loses_and_duplicates_no_rows(client, embedder, image_paths, local_embeddings):
    event_name = f"release-{uuid.uuid4().hex}"

    def hold_until_released(paths, name):
        # Later partitions wait here, so the run is certainly still going when the
        # worker dies; secede() frees the worker's thread for the open partitions.
        distributed.secede()
        distributed.Event(name).wait(timeout=120)
        distributed.rejoin()
        return paths

    chunks = [image_paths[start : start + PARTITION_SIZE] for start in range(0, N_IMAGES, PARTITION_SIZE)]
    partitions = [dask.delayed(chunk) for chunk in chunks[:6]]  # six open partitions, six held back
    partitions += [dask.delayed(hold_until_released)(chunk, event_name) for chunk in chunks[6:]]
    before = client.run(worker_statistics)
    fitted = ClipImageEmbedder(**embedder.get_params()).fit()  # no width probe: workers only embed
    future = client.compute(embed_images(dask.bag.from_delayed(partitions), fitted))

    wait_until(lambda: total(statistics_delta(client, before), "partitions_embedded") >= 2, "nothing was embedded")
    delta = statistics_delta(client, before)
    victim = max(delta, key=lambda address: delta[address]["partitions_embedded"])
    assert delta[victim]["partitions_embedded"] >= 1  # its results die with it
    assert future.status == "pending"
    os.kill(client.run(os.getpid, workers=[victim])[victim], signal.SIGKILL)
    wait_until(lambda: victim not in client.scheduler_info(n_workers=-1)["workers"], "the death went unnoticed")
    distributed.Event(event_name, client=client).set()

    np.testing.assert_allclose(future.result(timeout=120), local_embeddings, atol=ATOL)  # also checks the shape
    # The victim's partitions died with it and were embedded again elsewhere.
    delta = statistics_delta(client, before)
    assert victim not in delta
    assert total(delta, "partitions_embedded") >= N_PARTITIONS


def test_the_resume_cache_keys_partitions_like_the_embedder_jpeg_draft_included(tiny_model, tmp_path):
    # Issue 22 item 2: the worker keys through the embedder's tiered cache; its own key left jpeg_draft out,
    # so a partition embedded from draft-decoded JPEGs was served to jpeg_draft=False.
    from PIL import Image

    from skclip_sage.distributed._worker import embed_partition

    rng = np.random.default_rng(0)
    paths = []
    for index in range(2):
        paths.append(str(tmp_path / f"photo_{index}.jpg"))
        Image.fromarray(rng.integers(0, 255, (256, 256, 3), dtype=np.uint8)).save(paths[-1], quality=95)
    params = ClipImageEmbedder(tiny_model, pretrained=None, device="cpu").get_params()
    drafted, _ = embed_partition(paths, params, 0, 1, cache_dir=tmp_path / "resume")
    full, _ = embed_partition(paths, {**params, "jpeg_draft": False}, 0, 1, cache_dir=tmp_path / "resume")
    expected = ClipImageEmbedder(tiny_model, pretrained=None, device="cpu", jpeg_draft=False, memory_cache=0)
    np.testing.assert_array_equal(full, expected.fit_transform(paths))
    assert not np.array_equal(drafted, full)
    assert len(list((tmp_path / "resume").rglob("*.npy"))) == 2
