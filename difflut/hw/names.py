"""Export names: the one place for the rules a file base name / C prefix / Verilog top name follows.

* :func:`export_name`: any text (a model name) -> an identifier: characters outside ``[A-Za-z0-9_]``
  become ``_``, and ``m_`` is put in front of a name that does not start with a letter or ``_``; the
  result is then checked by :func:`check_name` (a reserved word is refused, not renamed).
* :func:`check_name`: a name must be an identifier ``[A-Za-z_][A-Za-z0-9_]*`` (and at most ``max_length``
  characters, e.g. 63 for C), not a keyword of Verilog-2005, SystemVerilog (IEEE 1800-2017) or C (C89 to
  C23, with the C++ keywords a C++ compiler would choke on in the header), not a C reserved identifier
  (``_`` followed by a capital or ``_``), and not the name of a module or file we emit beside it
  (``LUT6``, in any case: ``LUT6.v`` on a case-insensitive file system); raises
  :class:`ExportNameError` naming the rule otherwise.
"""

from __future__ import annotations

import re

from ..errors import DiffLUTError

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: the longest C identifier every C99 compiler tells apart (internal identifiers: 63 significant characters)
C_MAX_LENGTH = 63

VERILOG_KEYWORDS = frozenset("""
always and assign automatic begin buf bufif0 bufif1 case casex casez cell cmos config deassign default defparam
design disable edge else end endcase endconfig endfunction endgenerate endmodule endprimitive endspecify endtable
endtask event for force forever fork function generate genvar highz0 highz1 if ifnone incdir include initial inout
input instance integer join large liblist library localparam macromodule medium module nand negedge nmos nor
noshowcancelled not notif0 notif1 or output parameter pmos posedge primitive pull0 pull1 pulldown pullup
pulsestyle_ondetect pulsestyle_onevent rcmos real realtime reg release repeat rnmos rpmos rtran rtranif0 rtranif1
scalared showcancelled signed small specify specparam strong0 strong1 supply0 supply1 table task time tran tranif0
tranif1 tri tri0 tri1 triand trior trireg unsigned use uwire vectored wait wand weak0 weak1 while wire wor xnor xor
""".split())
SYSTEMVERILOG_KEYWORDS = frozenset("""
accept_on alias always_comb always_ff always_latch assert assume before bind bins binsof bit break byte chandle
checker class clocking const constraint context continue cover covergroup coverpoint cross dist do endchecker
endclass endclocking endgroup endinterface endpackage endprogram endproperty endsequence enum eventually expect
export extends extern final first_match foreach forkjoin global iff ignore_bins illegal_bins implements implies
import inside int interconnect interface intersect join_any join_none let local logic longint matches modport
nettype new nexttime null package packed priority program property protected pure rand randc randcase randsequence
ref reject_on restrict return s_always s_eventually s_nexttime s_until s_until_with sequence shortint shortreal
soft solve static string strong struct super sync_accept_on sync_reject_on tagged this throughout timeprecision
timeunit type typedef union unique unique0 until until_with untyped var virtual void wait_order weak wildcard with
within
""".split())
C_KEYWORDS = frozenset("""
auto break case char const continue default do double else enum extern float for goto if inline int long register
restrict return short signed sizeof static struct switch typedef union unsigned void volatile while alignas alignof
bool constexpr false nullptr static_assert thread_local true typeof typeof_unqual
asm catch class delete friend mutable namespace new operator private protected public template this throw try
typename using virtual
""".split())
#: modules and files the backends emit beside the design (compared without case)
EMITTED_NAMES = frozenset({"lut6"})
RESERVED = VERILOG_KEYWORDS | SYSTEMVERILOG_KEYWORDS | C_KEYWORDS


class ExportNameError(DiffLUTError, ValueError):
    """A name is not a valid identifier for an export."""


def export_name(text: str) -> str:
    """``text`` made an identifier (see the module docstring), then :func:`check_name`; identifiers are
    returned unchanged."""
    if not isinstance(text, str):
        raise ExportNameError(f"an export name must be a string, got {type(text).__name__}")
    name = re.sub(r"[^A-Za-z0-9_]", "_", text)
    return check_name(name if re.match(r"^[A-Za-z_]", name) else f"m_{name}")


def _reserved_by(name: str) -> str | None:
    langs = [lang for lang, words in (("Verilog", VERILOG_KEYWORDS), ("SystemVerilog", SYSTEMVERILOG_KEYWORDS),
                                      ("C", C_KEYWORDS)) if name in words]
    if langs:
        return f"a keyword of {' / '.join(langs)}"
    if re.match(r"_[A-Z_]", name):
        return "reserved in C (a leading _ and a capital or _)"
    if name.lower() in EMITTED_NAMES:
        return "the name of a module / file DiffLUT emits beside the design (LUT6, LUT6.v)"
    return None


def check_name(name: str, *, max_length: int | None = None, what: str = "name") -> str:
    """``name`` if it is an identifier of at most ``max_length`` characters that is not reserved (see the
    module docstring), else :class:`ExportNameError`."""
    limit = "" if max_length is None else f", at most {max_length} chars"
    if not isinstance(name, str) or not IDENTIFIER.fullmatch(name) or (max_length and len(name) > max_length):
        raise ExportNameError(f"{what} must be an identifier ([A-Za-z_][A-Za-z0-9_]*{limit}), got {name!r}")
    reason = _reserved_by(name)
    if reason:
        raise ExportNameError(f"{what} {name!r} is {reason}: the export would not build; choose another name")
    return name
