"""A network compiled in chunks, on disk (``codesign compile --chunked``;
docs/program-format.md).

``OUT/`` holds one program image per chunk (``pass_000.img``, ...: the ordinary, checksummed
format), ``passes.json`` (the manifest: the network's outline and, per chunk, its population,
image and source populations) and ``passes.npz`` (per chunk ``K`` its neuron indices
``neurons_K`` and, per source ``J``, ``group_of_K_J``: the chunk input each source neuron adds
into, -1 for none). The files keep the names of the format's first version, when chunks were
called passes.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import scipy.sparse as sparse

from codesign.compiler.image import program_image
from codesign.compiler.image.chunked import ChunkProgram, ChunkedPlan
from codesign.errors import CodesignError

MANIFEST_NAME = "passes.json"
ARRAYS_NAME = "passes.npz"
FORMAT = "codesign-passes"
VERSION = 1


def image_name(index: int) -> str:
    return f"pass_{index:03d}.img"


def save(plan: ChunkedPlan, out_dir: Path) -> None:
    arrays = {}
    chunks = []
    for index, chunk in enumerate(plan.chunks):
        (out_dir / image_name(index)).write_bytes(chunk.image.to_bytes())
        arrays[f"neurons_{index}"] = chunk.neurons
        for source_index, group in enumerate(chunk.groups):
            group_of = np.full(group.shape[1], -1, dtype=np.int64)
            rows, columns = group.nonzero()
            group_of[columns] = rows
            arrays[f"group_of_{index}_{source_index}"] = group_of
        chunks.append({"population": chunk.population, "image": image_name(index),
                       "sources": chunk.sources})
    manifest = {"format": FORMAT, "version": VERSION,
                "input": {"name": plan.input_name, "shape": list(plan.input_shape)},
                "populations": [[name, size] for name, size in plan.populations],
                "output": {"name": plan.output, "shape": list(plan.output_shape)},
                "passes": chunks}
    (out_dir / MANIFEST_NAME).write_text(json.dumps(manifest, indent=1) + "\n")
    np.savez_compressed(out_dir / ARRAYS_NAME, **arrays)


def load(out_dir: Path) -> ChunkedPlan:
    """The plan saved in ``out_dir``; every image is checked as ``codesign run`` checks one."""
    path = out_dir / MANIFEST_NAME
    try:
        manifest = json.loads(path.read_text())
        if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
            raise CodesignError(f"{path} is not a version-{VERSION} manifest of chunks",
                                "compile the network again with `codesign compile --chunked`")
        arrays = np.load(out_dir / ARRAYS_NAME)
        chunks = []
        for index, entry in enumerate(manifest["passes"]):
            image = program_image.load_image(out_dir / entry["image"])
            groups = []
            for source_index, _ in enumerate(entry["sources"]):
                group_of = arrays[f"group_of_{index}_{source_index}"]
                members = np.flatnonzero(group_of >= 0)
                groups.append(sparse.csr_matrix(
                    (np.ones(members.size, dtype=np.int64), (group_of[members], members)),
                    shape=(int(group_of.max(initial=-1)) + 1, group_of.size)))
            chunks.append(ChunkProgram(population=entry["population"],
                                       neurons=arrays[f"neurons_{index}"],
                                       sources=list(entry["sources"]), groups=groups,
                                       program=program_image.program_from_image(image),
                                       image=image))
        config = chunks[0].program.config
        return ChunkedPlan(config=config, input_name=manifest["input"]["name"],
                             input_shape=tuple(manifest["input"]["shape"]),
                             populations=[(name, int(size))
                                          for name, size in manifest["populations"]],
                             output=manifest["output"]["name"],
                             output_shape=tuple(manifest["output"]["shape"]), chunks=chunks)
    except (OSError, ValueError, KeyError, IndexError, TypeError) as error:
        raise CodesignError(f"the chunks in {out_dir} are unreadable ({error})",
                            "compile the network again with `codesign compile --chunked`") from None
