"""Board bitstreams through amaranth-boards and the YoWASP tools, and the resource check that
refuses a design too big for the board's device."""

import dataclasses
from pathlib import Path

import pytest
from amaranth import Cat, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from codesign.arch.config import HWConfig, load_config
from codesign.errors import CodesignError
from codesign.flows.bitstream import build_bitstream

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
#: Every iCE40 UP5K bitstream (icepack .bin) has exactly this size.
UP5K_BITSTREAM_BYTES = 104_090


class IncrementingEcho(wiring.Component):
    """Host-stream stand-in: answers every command word with the word plus one."""

    def __init__(self, width: int):
        super().__init__({"command": In(stream.Signature(width)),
                          "response": Out(stream.Signature(width))})

    def elaborate(self, platform):
        m = Module()
        with m.If(self.response.ready):
            m.d.sync += self.response.valid.eq(0)
        with m.If(self.command.valid & self.command.ready):
            m.d.sync += [self.response.payload.eq(self.command.payload + 1),
                         self.response.valid.eq(1)]
        m.d.comb += self.command.ready.eq(~self.response.valid | self.response.ready)
        return m


class MultiplierHog(IncrementingEcho):
    """Answers with the sum of ten registered 16 x 16 products: 10 SB_MAC16, the UP5K has 8."""

    def elaborate(self, platform):
        m = Module()
        products = []
        for index in range(10):
            product = Signal(32, name=f"product_{index}")
            m.d.sync += product.eq(self.command.payload * (self.command.payload + 3 * index + 1))
            products.append(product)
        m.d.comb += [self.command.ready.eq(self.response.ready),
                     self.response.payload.eq(sum(products))]
        m.d.sync += self.response.valid.eq(self.command.valid)
        return m


class ShiftHog(IncrementingEcho):
    """Answers with the parity of the last 125 bits of each of 36 command-fed shift registers:
    4,500 flip-flops that cannot share a logic cell with a LUT, and ~1,500 LUT4s of parity
    tree: ~6,000 logic cells."""

    def elaborate(self, platform):
        m = Module()
        taps, previous = [], self.command.payload[0]
        for index in range(36):  # each chain feeds the next, so none is a copy of another
            chain = Signal(125, name=f"chain_{index}")
            with m.If(self.command.valid):
                m.d.sync += chain.eq(Cat(self.command.payload[index % 8] ^ previous, chain[:-1]))
            taps += list(chain)
            previous = chain[-1]

        def parity(bits):  # balanced: Yosys (WebAssembly) overflows its stack on long chains
            half = len(bits) // 2
            return bits[0] if len(bits) == 1 else parity(bits[:half]) ^ parity(bits[half:])

        m.d.comb += [self.command.ready.eq(self.response.ready),
                     self.response.payload.eq(parity(taps))]
        m.d.sync += self.response.valid.eq(self.command.valid)
        return m


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("CODESIGN_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.mark.slow
def test_ulx3s_bitstream_of_the_accelerator(tmp_path: Path):
    """tiny.yaml with the neuron unit cut for ECP5's MULT18X18D, whose operand and product
    registers are the blocks' own (codesign.hw.lib.dsp_block): they must place, route and pack."""
    config = dataclasses.replace(load_config(CONFIGS / "tiny.yaml"), neuron_dsp_bits=18)
    bitstream = build_bitstream(config, "ulx3s", tmp_path / "ulx3s")
    assert bitstream.name == "codesign_top.bit"
    assert bitstream.stat().st_size > 100_000
    timing = (tmp_path / "ulx3s" / "codesign_top.tim").read_text()
    assert "Max frequency for clock" in timing and "PASS" in timing


@pytest.mark.slow
def test_icebreaker_bitstream_of_the_uart_bridge(tmp_path: Path):
    config = HWConfig.from_dict({"host_width": 8, "cores": 1, "neurons_per_core": 64})
    bitstream = build_bitstream(config, "icebreaker", tmp_path / "icebreaker",
                                host_factory=lambda: IncrementingEcho(8))
    assert bitstream.name == "codesign_top.bin"
    assert bitstream.stat().st_size == UP5K_BITSTREAM_BYTES
    assert "PASS" in (tmp_path / "icebreaker" / "codesign_top.tim").read_text()


@pytest.mark.slow
def test_icebreaker_bitstream_of_the_tiny_accelerator(tmp_path: Path):
    """tiny.yaml's accelerator + UART bridge placed, routed and packed for the UP5K, meeting
    timing at the iCEBreaker's 12 MHz."""
    config = load_config(CONFIGS / "tiny.yaml")
    bitstream = build_bitstream(config, "icebreaker", tmp_path / "icebreaker")
    assert bitstream.name == "codesign_top.bin"
    assert bitstream.stat().st_size == UP5K_BITSTREAM_BYTES
    timing = (tmp_path / "icebreaker" / "codesign_top.tim").read_text()
    assert "Max frequency for clock" in timing and "PASS" in timing
    assert "ICESTORM_DSP:       7/" in timing      # the neuron unit's multipliers


@pytest.mark.slow
def test_icebreaker_refuses_a_design_short_of_logic_cells(tmp_path: Path):
    """Within the UP5K's LUT4 and FF counts, so the real flow runs, but nextpnr needs more logic
    cells (one LUT4 + one flip-flop each) than the device has: the error says so on one line."""
    config = HWConfig.from_dict({"host_width": 8})
    with pytest.raises(CodesignError, match=r"needs \d+ ICESTORM_LC but the ice40-up5k has 5280 "
                                            r"\(\d+ over"):
        build_bitstream(config, "icebreaker", tmp_path / "icebreaker",
                        host_factory=lambda: ShiftHog(8))


def test_design_too_big_for_the_board_names_resource_and_excess(tmp_path: Path):
    config = HWConfig.from_dict({"host_width": 16})
    with pytest.raises(CodesignError, match=r"needs 10 dsp but the ice40-up5k has 8 \(2 over"):
        build_bitstream(config, "icebreaker", tmp_path / "out",
                        host_factory=lambda: MultiplierHog(16))
    assert not (tmp_path / "out").exists()


def test_unknown_board(tmp_path: Path):
    with pytest.raises(CodesignError, match="unknown board 'de10'; use one of ulx3s, icebreaker"):
        build_bitstream(HWConfig(), "de10", tmp_path)


def test_a_baud_rate_the_board_clock_cannot_make_is_refused(tmp_path: Path):
    with pytest.raises(CodesignError, match=r"10000000 baud is too fast for the ulx3s's 25 MHz "
                                            r"clock; use at most 6250000 baud"):
        build_bitstream(HWConfig(), "ulx3s", tmp_path, baud=10_000_000)
    assert not any(tmp_path.iterdir())


def test_program_without_openfpgaloader_says_how_to_get_it(tmp_path: Path, monkeypatch):
    from codesign.flows.bitstream import load_bitstream

    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("OPENFPGALOADER", raising=False)
    with pytest.raises(CodesignError, match=r"openFPGALoader is not installed.*sudo apt install "
                                            r"openfpgaloader\) and run: openFPGALoader -b ulx3s "
                                            r"-m .*codesign_top.bit"):
        load_bitstream("ulx3s", tmp_path / "codesign_top.bit")


def test_program_with_no_board_attached_is_one_line(tmp_path: Path):
    """The real openFPGALoader (Debian's openfpgaloader) finds no ULX3S on the USB bus."""
    import shutil

    from codesign.flows.bitstream import load_bitstream

    if shutil.which("openFPGALoader") is None:
        pytest.skip("openFPGALoader is not installed (Debian package openfpgaloader)")
    (tmp_path / "codesign_top.bit").write_bytes(b"\xff" * 16)
    with pytest.raises(CodesignError) as caught:
        load_bitstream("ulx3s", tmp_path / "codesign_top.bit")
    assert "could not load" in str(caught.value) and "\n" not in str(caught.value)
