"""``images``: the in-memory store's structures in a file, read back whole, refused when cut or foreign."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

import fixtures
from mockserver.storage import images
from mockserver.storage.memory import MemoryStore

SEED = 3


@pytest.fixture
def written(tmp_path: Path) -> tuple[Path, MemoryStore]:
    store = MemoryStore(fixtures.generate(SEED, 4, 30, fixtures.DEFAULT_REFERENCE_TIME))
    path = tmp_path / f"store{images.IMAGE_SUFFIX}"
    images.write_image(path, store, SEED)
    return path, store


def test_an_image_restores_the_store_it_was_written_from(written: tuple[Path, MemoryStore]) -> None:
    path, original = written
    restored = MemoryStore()
    restored.restore(images.read_image(path))
    device = original.devices()[1]["id"]
    assert restored.devices() == original.devices()
    for device_id, offset in ((None, 0), (None, 25), (device, 0)):
        assert restored.page_json(device_id, offset, 10) == original.page_json(device_id, offset, 10)
    assert restored.create({"device_id": device})["id"] == original.create({"device_id": device})["id"]


def test_the_header_says_what_the_image_holds(written: tuple[Path, MemoryStore]) -> None:
    assert images.read_header(written[0]) == {"format": images.IMAGE_FORMAT, "seed": SEED,
                                              "devices": 4, "diagnostics": 30}


def test_a_restore_never_reuses_an_id_the_store_gave(written: tuple[Path, MemoryStore]) -> None:
    store = MemoryStore(fixtures.generate(SEED, 4, 30, fixtures.DEFAULT_REFERENCE_TIME))
    device = store.devices()[0]["id"]
    given = [store.create({"device_id": device})["id"] for _ in range(3)]
    store.restore(images.read_image(written[0]))
    assert store.create({"device_id": device})["id"] not in given


@pytest.mark.parametrize("damage", ["cut", "garbage", "empty"])
def test_a_damaged_image_is_refused(written: tuple[Path, MemoryStore], damage: str) -> None:
    path = written[0]
    whole = path.read_bytes()
    damaged = {"cut": whole[: len(whole) // 2], "garbage": b"not an image " * 100, "empty": b""}
    path.write_bytes(damaged[damage])
    with pytest.raises((images.ImageError, OSError)):
        images.read_header(path)
    with pytest.raises((images.ImageError, OSError)):
        images.read_image(path)


class Planted:
    """What a hostile image would make the unpickler build, running code on the way."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (print, ("code ran",))


def test_an_image_that_names_code_is_refused_without_running_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / f"hostile{images.IMAGE_SUFFIX}"
    with path.open("wb") as file:
        pickle.dump({"format": images.IMAGE_FORMAT, "seed": 1, "devices": 0, "diagnostics": 0}, file)
        pickle.dump(({}, [Planted()], {}, {}, 0), file)
        file.write(images.END_MARK)
    images.read_header(path)  # the header is plain data
    with pytest.raises(images.ImageError, match="data only"):
        images.read_image(path)
    assert "code ran" not in capsys.readouterr().out


def test_structures_of_another_shape_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not the structures of a store"):
        MemoryStore().restore(([], [], {}, {}, 0))  # type: ignore[arg-type]
