"""SPICE backplanes make the limb fit's layers at once and the others on first read, with the same values.

Navigation's limb fit reads only ``limb_distance_px``, ``on_disk`` and ``incidence_deg`` of the predicted
geometry, which its registration then re-points: the other layers of those backplanes need never be made.
The reference is the numpy path of ``spice_provider`` (``COMPILED = False``), which makes every layer at
once (itself checked against per-pixel ``sincpt``/``ilumin`` in ``test_spice_provider.py``).
"""

from __future__ import annotations

import copy
import pickle
import threading
import time

import numpy as np
import pytest

from ioscan.geometry import spice_provider
from ioscan.geometry.backplanes import REGISTRY, LazyLayers

LIMB_LAYERS = ("incidence_deg", "on_disk", "limb_distance_px")


def _layers(calls: list) -> LazyLayers:
    def rest():
        calls.append(1)
        return {"b": np.full(2, 2.0), "c": np.full(2, 3.0)}

    return LazyLayers({"a": np.full(2, 1.0)}, ("b", "a", "c"), rest)


def test_ready_layers_are_read_without_making_the_rest():
    calls: list = []
    layers = _layers(calls)
    assert "a" in layers and "b" in layers and "x" not in layers
    assert layers["a"][0] == 1.0 and layers.get("a")[0] == 1.0 and layers.get("x") is None
    assert calls == [] and layers.pending


@pytest.mark.parametrize(
    "read",
    [list, len, dict, lambda d: {**d}, lambda d: list(d.items()), lambda d: d["c"], copy.deepcopy, repr],
)
def test_anything_else_makes_the_rest_once_in_order(read):
    calls: list = []
    layers = _layers(calls)
    read(layers)
    assert calls == [1] and not layers.pending
    assert list(layers) == ["b", "a", "c"]
    assert [float(v[0]) for v in layers.values()] == [2.0, 1.0, 3.0]
    assert calls == [1]


def test_a_ready_layer_read_while_another_thread_makes_the_rest_is_never_missing():
    """One thread completes the layers (slowly) while another keeps reading a ready one: the reader never
    meets the moment the layers are re-ordered, and the rest is made once."""
    calls: list = []

    def rest():
        calls.append(1)
        time.sleep(0.05)
        return {"b": np.full(2, 2.0), "c": np.full(2, 3.0)}

    layers = LazyLayers({"a": np.full(2, 1.0)}, ("b", "a", "c"), rest)
    errors: list = []
    done = threading.Event()

    def read_ready():
        try:
            while not done.is_set():
                assert layers["a"][0] == 1.0
        except Exception as exc:  # noqa: BLE001 (what the reader met is the test's finding)
            errors.append(exc)

    reader = threading.Thread(target=read_ready)
    reader.start()
    completers = [threading.Thread(target=lambda: list(layers)) for _ in range(2)]
    for t in completers:
        t.start()
    for t in completers:
        t.join()
    time.sleep(0.01)
    done.set()
    reader.join()
    assert errors == [] and calls == [1] and list(layers) == ["b", "a", "c"]


def test_pickled_and_copied_as_a_plain_dict_of_every_layer():
    calls: list = []
    layers = _layers(calls)
    layers["d"] = np.zeros(1)  # set by hand before the rest: kept, after the provider's layers
    again = pickle.loads(pickle.dumps(layers))
    assert type(again) is dict and list(again) == ["b", "a", "c", "d"]
    assert type(copy.copy(layers)) is dict and calls == [1]


def _navigations(small_campaign, compiled: bool, monkeypatch):
    from ioscan.formats import read_product
    from ioscan.geometry.navigate import navigate_frame, register_on_limb

    monkeypatch.setattr(spice_provider, "COMPILED", compiled)
    out = []
    for lbl in sorted(small_campaign.metakernel.parent.parent.glob("jiram/*/*.LBL")):
        frame = read_product(lbl)
        nav = navigate_frame(frame, kernels=small_campaign.metakernel, register=False)
        predicted = dict(nav.backplanes)
        register_on_limb(frame, nav)
        out.append((predicted, nav))
    return out


def test_a_limb_registration_never_makes_the_rest_of_the_predicted_geometry(small_campaign, monkeypatch):
    """On the small campaign: registered frames leave their predicted backplanes' other layers unmade; the
    registration's offsets, and every layer of the predicted and re-pointed backplanes once read, equal the
    numpy path's bit for bit."""
    lazy = _navigations(small_campaign, True, monkeypatch)
    eager = _navigations(small_campaign, False, monkeypatch)
    registered = 0
    for (predicted, nav), (predicted_ref, nav_ref) in zip(lazy, eager, strict=True):
        assert (nav.registered, nav.offset_px, nav.offset_err_px) == (
            nav_ref.registered,
            nav_ref.offset_px,
            nav_ref.offset_err_px,
        )
        if nav.registered:
            registered += 1
            assert all(bp.arrays.pending for bp in predicted.values())
        for band, bp in predicted.items():
            assert list(bp.arrays) == list(REGISTRY)  # (makes the rest)
            for name in REGISTRY:
                np.testing.assert_array_equal(bp[name], predicted_ref[band][name], err_msg=name)
            for name in REGISTRY:
                np.testing.assert_array_equal(
                    nav.backplanes[band][name], nav_ref.backplanes[band][name], err_msg=name
                )
    assert registered >= 2


def _by_layer(calls: list) -> LazyLayers:
    def layer(name):
        calls.append(name)
        return {name: np.full(2, {"b": 2.0, "c": 3.0, "d": 4.0}[name])}

    def at(name, flat):
        calls.append(("at", name))
        return None if name == "d" else np.full(len(flat), {"b": 2.0, "c": 3.0}[name])

    return LazyLayers({"a": np.full(2, 1.0)}, ("b", "a", "c", "d"), make_layer=layer, make_at=at)


def test_a_layer_read_alone_is_made_alone_and_the_rest_by_layer_in_order():
    calls: list = []
    layers = _by_layer(calls)
    assert layers["c"][0] == 3.0 and calls == ["c"] and layers.pending
    assert layers["c"][0] == 3.0 and calls == ["c"]  # made once
    assert list(layers) == ["b", "a", "c", "d"] and calls == ["c", "b", "d"] and not layers.pending
    assert [float(v[0]) for v in layers.values()] == [2.0, 1.0, 3.0, 4.0]


def test_values_at_reads_pixels_without_making_the_layer_where_the_provider_can():
    calls: list = []
    layers = _by_layer(calls)
    np.testing.assert_array_equal(layers.values_at("b", np.array([1])), [2.0])
    np.testing.assert_array_equal(layers.values_at("a", np.array([0, 1])), [1.0, 1.0])  # a made layer
    assert calls == [("at", "b")] and not dict.__contains__(layers, "b")
    np.testing.assert_array_equal(layers.values_at("d", np.array([0])), [4.0])  # the provider cannot: made
    assert calls == [("at", "b"), ("at", "d"), "d"]
    list(layers)
    np.testing.assert_array_equal(layers.values_at("b", np.array([0])), [2.0])  # complete: no provider
    assert calls[-1] == "c" and calls[0] == ("at", "b") and calls.count(("at", "b")) == 1


def test_lazy_layers_need_a_maker():
    with pytest.raises(ValueError):
        LazyLayers({}, ("a",))


def test_spice_layers_alone_and_at_pixels_equal_the_whole_solution(small_campaign, monkeypatch):
    """On the small campaign (predicted and re-pointed geometry): every SPICE layer read alone, and any layer
    read at some pixels before it is made (``values_at``), equals the numpy path's whole solution bit for
    bit; incidence is finite exactly on the disk (what the limb fit's Sun fit relies on); a limb-registered
    frame's predicted geometry made no layer but the limb distance and the disk (its limb fit read incidence
    at its Sun fit's pixels alone)."""
    lazy = _navigations(small_campaign, True, monkeypatch)
    eager = _navigations(small_campaign, False, monkeypatch)
    rng = np.random.default_rng(3)
    checked = 0
    for (predicted, nav), (predicted_ref, nav_ref) in zip(lazy, eager, strict=True):
        if nav.registered:
            for bp in predicted.values():
                assert set(dict.keys(bp.arrays)) == {"on_disk", "limb_distance_px"}  # incidence at a few px
        for bps, refs in ((predicted, predicted_ref), (nav.backplanes, nav_ref.backplanes)):
            for band, bp in bps.items():
                ref = refs[band]
                disk = np.flatnonzero(ref["on_disk"].reshape(-1) > 0)
                if not len(disk):
                    continue
                assert bp.finite_on_disk("incidence_deg") or not bp.arrays.pending
                was_pending = bp.arrays.pending  # (an unregistered frame's backplanes are its predicted ones)
                np.testing.assert_array_equal(np.isfinite(ref["incidence_deg"]), ref["on_disk"] > 0)
                for name in REGISTRY:  # a few disk pixels first (1, a handful, many), then the layer alone
                    for n in (1, 7, min(len(disk), 3000)):
                        flat = np.sort(rng.choice(disk, n, replace=False))
                        got = bp.values_at(name, flat)
                        np.testing.assert_array_equal(got, ref[name].reshape(-1)[flat], err_msg=name)
                    np.testing.assert_array_equal(bp[name], ref[name], err_msg=name)
                assert bp.arrays.pending == was_pending  # each layer read by name: none iterated
                assert list(bp.arrays) == list(REGISTRY)
                checked += 1
    assert checked >= 4


def test_a_scans_layers_are_made_together_and_the_others_alone(small_campaign):
    """The layers a scan reads whole are made together on the first read of one; lat_pc_deg,
    local_solar_time_h and phase_deg are made only when read (the sub-observer point reads phase at one
    pixel: ``values_at``, which makes nothing)."""
    from ioscan.formats import read_product
    from ioscan.geometry.navigate import navigate_frame

    lbl = sorted(small_campaign.metakernel.parent.parent.glob("jiram/*/*.LBL"))[0]
    nav = navigate_frame(read_product(lbl), kernels=small_campaign.metakernel, register=False)
    bp = max(nav.backplanes.values(), key=lambda b: int(b.on_disk.sum()))
    assert bp.on_disk.any()
    bp["emission_deg"]
    made = set(dict.keys(bp.arrays))
    assert made == {"on_disk", "limb_distance_px"} | set(spice_provider.REST_TOGETHER)  # predicted: deferred
    point = nav.nearest_point()
    assert set(dict.keys(bp.arrays)) == made and np.isfinite(point["phase_deg"])
    i = np.argmin(np.where(bp.on_disk, bp["range_km"], np.inf))
    assert point["phase_deg"] == bp["phase_deg"].reshape(-1)[i]  # made now: the same value
    assert set(dict.keys(bp.arrays)) == made | {"phase_deg"} and bp.arrays.pending
