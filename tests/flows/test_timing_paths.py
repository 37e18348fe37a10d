"""The SDF timing analysis on a hand-written SDF: two flip-flops through a LUT, a pin path and
the clock network (which are not data paths), and a carry chain's internal arcs."""

import pytest

from codesign.flows.timing_paths import block_of, endpoint_slacks, failing_summary

SDF = r"""(DELAYFILE
  (TIMESCALE 1ps)
  (CELL
    (CELLTYPE "top")
    (INSTANCE )
    (DELAY
      (ABSOLUTE
        (INTERCONNECT \$gbuf\$clk/CLKO a_TRELLIS_FF_Q/CLK (0:0:0) (0:0:0))
        (INTERCONNECT a_TRELLIS_FF_Q/Q sum\$CCU2_COMB0/A (100:200:300) (100:200:300))
        (INTERCONNECT sum\$CCU2_COMB0/FCO sum\$CCU2_COMB1/FCI (0:0:0) (0:0:0))
        (INTERCONNECT sum\$CCU2_COMB1/F b_TRELLIS_FF_Q_3/DI (1000:2000:3000) (1000:2000:3000))
        (INTERCONNECT rst\$tr_io/O b_TRELLIS_FF_Q_3/LSR (9000:9000:9000) (9000:9000:9000))
      )
    )
  )
  (CELL
    (CELLTYPE "TRELLIS_FF")
    (INSTANCE a_TRELLIS_FF_Q)
    (DELAY
      (ABSOLUTE
        (IOPATH CLK Q (400:450:500) (400:450:500))
      )
    )
  )
  (CELL
    (CELLTYPE "TRELLIS_COMB")
    (INSTANCE sum\$CCU2_COMB0)
    (DELAY
      (ABSOLUTE
        (IOPATH A FCO (100:150:200) (100:150:200))
      )
    )
  )
  (CELL
    (CELLTYPE "TRELLIS_COMB")
    (INSTANCE sum\$CCU2_COMB1)
    (DELAY
      (ABSOLUTE
        (IOPATH FCI F (300:350:400) (300:350:400))
      )
    )
  )
  (CELL
    (CELLTYPE "TRELLIS_FF")
    (INSTANCE b_TRELLIS_FF_Q_3)
    (DELAY
      (ABSOLUTE
        (IOPATH CLK Q (400:450:500) (400:450:500))
      )
    )
    (TIMINGCHECK
      (SETUPHOLD (posedge DI) (posedge CLK) (50:60:70) (0:0:0))
      (SETUPHOLD (posedge LSR) (posedge CLK) (400:400:400) (0:0:0))
    )
  )
)
"""


def test_latest_clocked_path_sets_the_slack():
    # a.Q 500 + route 300 + A->FCO 200 + FCO->FCI 0 + FCI->F 400 + route 3000 + setup 70 = 4470 ps
    slacks = endpoint_slacks(SDF, period_ns=4.0)
    assert len(slacks) == 1   # the LSR is reached only from a pin: not a clocked path
    assert slacks[0].slack_ns == pytest.approx(-0.47)
    assert slacks[0].endpoint == "b_TRELLIS_FF_Q_3/DI"
    assert slacks[0].startpoint == "a_TRELLIS_FF_Q/Q"


def test_failing_endpoints_are_counted_by_block():
    summary = failing_summary(endpoint_slacks(SDF, period_ns=4.0))
    assert summary == {"endpoints": 1, "failing_endpoints": 1, "worst_slack_ns": -0.47,
                       "failing_by_block": [["a", "b", 1]]}
    assert failing_summary(endpoint_slacks(SDF, period_ns=5.0))["failing_endpoints"] == 0


def test_block_names_drop_yosys_cell_suffixes():
    assert block_of("router.intake_id_copy_0_TRELLIS_FF_Q_3/M") == "router.intake_id_copy"
    assert block_of("core_1.unit.neuron_LUT4_Z/A") == "core_1.unit.neuron"
    assert block_of("sum$CCU2_COMB1/F") == "sum"
