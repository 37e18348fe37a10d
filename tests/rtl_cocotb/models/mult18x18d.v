// Simulation model of the ECP5 MULT18X18D for the configurations codesign.hw.dsp_block uses:
// REG_INPUTA_CLK, REG_INPUTB_CLK and REG_OUTPUT_CLK each "NONE" or "CLK0", no pipeline
// register, CE0 as the registers' clock enable, RST0 as their synchronous reset, signed or
// unsigned operands by SIGNEDA / SIGNEDB (constant in this flow, so whether the block registers
// them does not matter here), P = A * B (the C port and the cascade are unused).
//
// Written from Lattice's "ECP5 and ECP5-5G sysDSP Usage Guide" (FPGA-TN-02205); Yosys ships
// only a black box for this primitive, so this is our reading of the guide, not a vendor model.
// Only the Verilator tests of the ECP5 elaboration use it (sim/test_neuron_unit_cocotb.py).
module MULT18X18D (
    input CLK0, input CE0, input RST0, input SIGNEDA, input SIGNEDB, input SOURCEA, input SOURCEB,
    input A17, A16, A15, A14, A13, A12, A11, A10, A9, A8, A7, A6, A5, A4, A3, A2, A1, A0,
    input B17, B16, B15, B14, B13, B12, B11, B10, B9, B8, B7, B6, B5, B4, B3, B2, B1, B0,
    input C17, C16, C15, C14, C13, C12, C11, C10, C9, C8, C7, C6, C5, C4, C3, C2, C1, C0,
    output P35, P34, P33, P32, P31, P30, P29, P28, P27, P26, P25, P24, P23, P22, P21, P20, P19, P18, P17, P16, P15, P14, P13, P12, P11, P10, P9, P8, P7, P6, P5, P4, P3, P2, P1, P0
);
    parameter REG_INPUTA_CLK = "NONE";
    parameter REG_INPUTB_CLK = "NONE";
    parameter REG_OUTPUT_CLK = "NONE";

    wire [17:0] a = {A17, A16, A15, A14, A13, A12, A11, A10, A9, A8, A7, A6, A5, A4, A3, A2, A1, A0};
    wire [17:0] b = {B17, B16, B15, B14, B13, B12, B11, B10, B9, B8, B7, B6, B5, B4, B3, B2, B1, B0};
    reg [17:0] a_register = 18'd0, b_register = 18'd0;
    reg [35:0] p_register = 36'd0;

    wire input_a_registered = REG_INPUTA_CLK == "CLK0";
    wire input_b_registered = REG_INPUTB_CLK == "CLK0";
    wire [17:0] a_used = input_a_registered ? a_register : a;
    wire [17:0] b_used = input_b_registered ? b_register : b;
    // Each operand extended to 36 bits by its own signedness, then multiplied modulo 2^36.
    wire [35:0] a_wide = {{18{SIGNEDA & a_used[17]}}, a_used};
    wire [35:0] b_wide = {{18{SIGNEDB & b_used[17]}}, b_used};
    wire [35:0] product = a_wide * b_wide;
    wire [35:0] p = REG_OUTPUT_CLK == "CLK0" ? p_register : product;
    always @(posedge CLK0) begin
        if (RST0) begin
            a_register <= 18'd0; b_register <= 18'd0; p_register <= 36'd0;
        end else if (CE0) begin
            a_register <= a; b_register <= b; p_register <= product;
        end
    end

    assign {P35, P34, P33, P32, P31, P30, P29, P28, P27, P26, P25, P24, P23, P22, P21, P20, P19, P18, P17, P16, P15, P14, P13, P12, P11, P10, P9, P8, P7, P6, P5, P4, P3, P2, P1, P0} = p;
endmodule
