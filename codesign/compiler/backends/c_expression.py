"""Symbolic C expressions: run :mod:`codesign.arithmetic` (or any function written with the same
operators) on :class:`Expression` objects and get C source instead of numbers.

This is how the C back end keeps DESIGN contract 1: it never restates the neuron formulas, it
*traces* them. Python numbers stay numbers, so everything that is constant for a population
(a decay of 0, a gain of 1, the reset mode) folds away while tracing and the emitted code holds
only the work that is left.

Fixed-point expressions are ``int64_t`` (``arithmetic.py`` keeps every product below 2^62);
``>>`` becomes ``asr()``, a floor division by a power of two that does not depend on the
implementation-defined right shift of negative integers. Float expressions are ``double``.
"""

from __future__ import annotations

import math
from numbers import Real
from typing import Any

#: Precedence-free emission: every compound sub-expression is parenthesised.
_BINARY = {"add": "+", "sub": "-", "mul": "*", "lt": "<", "gt": ">", "le": "<=", "ge": ">=",
           "and": "&", "or": "|", "xor": "^"}
_FOLD = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
         "lt": lambda a, b: int(a < b), "gt": lambda a, b: int(a > b),
         "le": lambda a, b: int(a <= b), "ge": lambda a, b: int(a >= b),
         "and": lambda a, b: a & b, "or": lambda a, b: a | b, "xor": lambda a, b: a ^ b}


class Expression:
    """A node of a C expression DAG. Leaves are variables (C text); inner nodes are operators on
    expressions and Python numbers. Shared sub-expressions are shared Python objects."""

    __slots__ = ("operator", "operands", "text")

    def __init__(self, operator: str, operands: tuple = (), text: str = ""):
        self.operator = operator
        self.operands = operands
        self.text = text

    def __bool__(self):
        raise TypeError("a traced C expression has no truth value; use select()")

    def _binary(self, operator: str, other, reflected: bool = False):
        if not isinstance(other, (Expression, Real)):
            return NotImplemented
        left, right = (other, self) if reflected else (self, other)
        return binary(operator, left, right)

    __add__ = lambda self, other: self._binary("add", other)
    __radd__ = lambda self, other: self._binary("add", other, True)
    __sub__ = lambda self, other: self._binary("sub", other)
    __rsub__ = lambda self, other: self._binary("sub", other, True)
    __mul__ = lambda self, other: self._binary("mul", other)
    __rmul__ = lambda self, other: self._binary("mul", other, True)
    __and__ = lambda self, other: self._binary("and", other)
    __rand__ = lambda self, other: self._binary("and", other, True)
    __or__ = lambda self, other: self._binary("or", other)
    __ror__ = lambda self, other: self._binary("or", other, True)
    __xor__ = lambda self, other: self._binary("xor", other)
    __rxor__ = lambda self, other: self._binary("xor", other, True)
    __lt__ = lambda self, other: self._binary("lt", other)
    __gt__ = lambda self, other: self._binary("gt", other)
    __le__ = lambda self, other: self._binary("le", other)
    __ge__ = lambda self, other: self._binary("ge", other)

    def __neg__(self):
        return binary("sub", 0, self)

    def __rshift__(self, shift):
        if not isinstance(shift, int):
            raise TypeError("only constant shift amounts can be traced to C")
        return Expression("asr", (self, shift)) if shift else self

    def __lshift__(self, shift):
        if not isinstance(shift, int):
            raise TypeError("only constant shift amounts can be traced to C")
        # A multiplication: a left shift of a negative value is undefined behaviour in C.
        return self * (1 << shift)


def variable(text: str) -> Expression:
    """A leaf: any C lvalue or expression of the block's type, e.g. ``"voltage"``."""
    return Expression("variable", text=text)


def _is_constant(value, number) -> bool:
    return isinstance(value, Real) and not isinstance(value, Expression) and value == number


def binary(operator: str, left, right):
    """``left <operator> right`` with constant folding and the identities of + and *."""
    if not isinstance(left, Expression) and not isinstance(right, Expression):
        return _FOLD[operator](left, right)
    if operator == "add":
        if _is_constant(left, 0):
            return right
        if _is_constant(right, 0):
            return left
    if operator == "sub" and _is_constant(right, 0):
        return left
    if operator == "mul":
        if _is_constant(left, 0) or _is_constant(right, 0):
            return 0
        if _is_constant(left, 1):
            return right
        if _is_constant(right, 1):
            return left
    if operator == "gt" and _is_constant(right, math.inf):
        return 0  # the float model's "never spikes" threshold
    return Expression(operator, (left, right))


def select(condition, if_true, if_false):
    """``condition ? if_true : if_false``; the ``select`` argument of :mod:`codesign.arithmetic`."""
    if not isinstance(condition, Expression):
        return if_true if condition else if_false
    if if_true is if_false or (not isinstance(if_true, Expression)
                               and not isinstance(if_false, Expression) and if_true == if_false):
        return if_true
    return Expression("select", (condition, if_true, if_false))


class Block:
    """Emits C statements for named results of one traced computation.

    Every node used more than once becomes a ``const`` local, so the code stays linear in the
    size of the traced function; the rest is inlined. ``c_type`` is ``int64_t`` or ``double``.
    """

    def __init__(self, c_type: str, results: dict[str, Any]):
        self.c_type = c_type
        self.lines: list[str] = []
        self._uses: dict[int, int] = {}
        self._names: dict[int, str] = {}
        self._wanted = {id(v): name for name, v in results.items() if isinstance(v, Expression)}
        self._temporaries = 0
        #: C text of every leaf the results read (to declare only the state loads that are used).
        self.variables: set[str] = set()
        seen: set[int] = set()
        for value in results.values():
            self._count(value, seen)
        self.results = {name: self._define(value, name) for name, value in results.items()}

    def _count(self, value, seen: set[int]) -> None:
        if not isinstance(value, Expression):
            return
        self._uses[id(value)] = self._uses.get(id(value), 0) + 1
        if id(value) in seen:
            return
        seen.add(id(value))
        if value.operator == "variable":
            self.variables.add(value.text)
        for operand in value.operands:
            self._count(operand, seen)

    def _define(self, value, name: str | None) -> str:
        """Emit ``const T name = ...;`` (a fresh ``tN`` if ``name`` is None, or the node's
        existing name) and return the C text."""
        if not isinstance(value, Expression):
            return self.literal(value)
        if id(value) in self._names:
            return self._names[id(value)]
        text = self._inline(value)
        if value.operator == "variable":
            return text
        if name is None:
            name = f"t{self._temporaries}"
            self._temporaries += 1
        self.lines.append(f"const {self.c_type} {name} = {text};")
        self._names[id(value)] = name
        return name

    def _text(self, value) -> str:
        """C text of an operand: a name, a literal, or an inlined single-use expression."""
        if not isinstance(value, Expression):
            return self.literal(value)
        if id(value) in self._names:
            return self._names[id(value)]
        shared = self._uses[id(value)] > 1 or id(value) in self._wanted
        if value.operator != "variable" and shared:
            return self._define(value, self._wanted.get(id(value)))
        return self._inline(value)

    def _inline(self, value: Expression) -> str:
        operator, operands = value.operator, value.operands
        if operator == "variable":
            return value.text
        if operator == "asr":
            return f"asr({self._text(operands[0])}, {operands[1]})"
        if operator == "select":
            condition, if_true, if_false = (self._text(o) for o in operands)
            text = f"({condition} ? {if_true} : {if_false})"
            # Two literal branches would make an `int` expression: keep the block's type.
            constant = not any(isinstance(o, Expression) for o in operands[1:])
            return f"({self.c_type}){text}" if constant else text
        left, right = (self._text(o) for o in operands)
        return f"({left} {_BINARY[operator]} {right})"

    def literal(self, value) -> str:
        """A C literal of the block's type."""
        if self.c_type == "double":
            value = float(value)
            if not math.isfinite(value):
                raise ValueError(f"cannot emit the non-finite constant {value} into C")
            return repr(value)
        value = int(value)
        if -(1 << 31) < value < (1 << 31):
            return str(value)
        return f"INT64_C({value})"
