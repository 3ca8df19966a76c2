"""cocotb 2.x testbench of an exported DiffLUT Verilog folder (``difflut.hw.verilog.export_verilog``).

Reads ``params.json`` next to this file and the vectors (``vectors.json``, or the file named by
``DIFFLUT_VECTORS``), drives the valid/ready top and compares every class score and the predicted
class with the expected values. Any mismatch, X on an output, missing output, wrong latency or
handshake violation fails the test. Per-test figures go to the JSON file named by ``DIFFLUT_RESULT``.

Tests: ``back_to_back`` (a vector every clock, ``out_ready`` high: checks throughput and that every
result appears exactly ``latency`` clocks after its input) and ``random_stalls`` (random ``in_valid``
and ``out_ready``: checks order, backpressure and that a stalled output holds). A combinational
design (latency 0) is checked vector by vector in ``combinational``.
"""

from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge, Timer

HERE = Path(__file__).resolve().parent
PARAMS = json.loads((HERE / "params.json").read_text())


def high(handle) -> bool:
    """A 1-bit signal is 1 (X/Z read as 0)."""
    return str(handle.value) == "1"


def as_int(handle):
    """The unsigned value of a signal, None when any bit is X/Z."""
    text = str(handle.value)
    return int(text, 2) if text and set(text) <= {"0", "1"} else None


class Bench:
    def __init__(self, dut):
        self.dut = dut
        self.params = PARAMS
        path = os.environ.get("DIFFLUT_VECTORS") or str(HERE / "vectors.json")
        vectors = json.loads(Path(path).read_text())["vectors"]
        limit = int(os.environ.get("DIFFLUT_LIMIT", "0") or 0)
        self.vectors = vectors[:limit] if limit > 0 else vectors
        self.seed = int(os.environ.get("DIFFLUT_SEED", "1"))
        bits = self.params["input"]["bits"]
        mask = (1 << bits) - 1
        self.packed = []
        for v in self.vectors:
            word = 0
            for f, code in enumerate(v["codes"]):
                word |= (code & mask) << (f * bits)
            self.packed.append(word)
        out = self.params["output"]
        self.classes, self.width = out["num_classes"], out["score_width"]
        self.latency = self.params["latency"]
        self.mismatches = []
        self.checked = 0

    def read_outputs(self):
        """(scores, class) now on the outputs; None when they hold X/Z."""
        word, cls = as_int(self.dut.out_scores), as_int(self.dut.out_class)
        if word is None or cls is None:
            return None
        mask = (1 << self.width) - 1
        return [(word >> (c * self.width)) & mask for c in range(self.classes)], cls

    def check(self, index: int, got) -> None:
        self.checked += 1
        want = self.vectors[index]
        if got is None or got[0] != want["scores"] or got[1] != want["class"]:
            shown = None if got is None else {"scores": got[0], "class": got[1]}
            self.mismatches.append({"vector": index, "got": shown,
                                    "want": {"scores": want["scores"], "class": want["class"]}})

    def report(self, test: str, seconds: float, cycles: int, extra=()) -> None:
        n = len(self.vectors)
        record = {"vectors": n, "checked": self.checked, "mismatches": len(self.mismatches), "cycles": cycles,
                  "seconds": round(seconds, 3), "vectors_per_s": round(n / seconds, 1) if seconds > 0 else None,
                  "first_mismatches": self.mismatches[:5], "errors": list(extra)}
        self.dut._log.info("%s: %d vectors, %d checked, %d mismatches, %d cycles, %.1f vectors/s", test, n,
                           self.checked, len(self.mismatches), cycles, record["vectors_per_s"] or 0.0)
        path = os.environ.get("DIFFLUT_RESULT")
        if path:
            p = Path(path)
            data = json.loads(p.read_text()) if p.exists() else {}
            data[test] = record
            p.write_text(json.dumps(data, indent=1, sort_keys=True))
        problems = list(extra)
        if self.mismatches:
            problems.append(f"{len(self.mismatches)} mismatching vectors, first: {self.mismatches[0]}")
        if self.checked != n:
            problems.append(f"{n - self.checked} of {n} outputs missing")
        assert not problems, "; ".join(problems)

    async def reset(self):
        dut = self.dut
        Clock(dut.clk, 10, unit="ns").start()
        dut.rst.value = 1
        dut.in_valid.value = 0
        dut.out_ready.value = 1  # the pipeline could advance, but no input may be taken during reset
        dut.in_codes.value = 0
        for _ in range(3):
            await RisingEdge(dut.clk)
        await FallingEdge(dut.clk)
        assert dut.in_ready.value == 0, "in_ready is high during reset (an input taken now would be lost)"
        dut.rst.value = 0
        dut.out_ready.value = 0

    async def stream(self, p_in: float, p_out: float, rng: random.Random):
        """Drive and check the stream; returns (cycles, errors)."""
        dut, n = self.dut, len(self.vectors)
        sent = received = cycle = 0
        accepted_at, errors = [], []
        held = None  # (scores, class) shown while out_valid & ~out_ready, must persist
        limit = self.latency + 4 + int(3 * n / max(min(p_in, p_out), 0.05)) + 100
        while received < n and cycle < limit:
            await FallingEdge(dut.clk)
            drive = sent < n and rng.random() < p_in
            ready = rng.random() < p_out
            dut.in_valid.value = int(drive)
            if drive:
                dut.in_codes.value = self.packed[sent]
            dut.out_ready.value = int(ready)
            await ReadOnly()
            taken = drive and high(dut.in_ready)
            if taken:
                accepted_at.append(cycle)
                sent += 1
            elif drive and p_out == 1.0:
                errors.append(f"input not taken at cycle {cycle} with out_ready held high")
            out_valid = high(dut.out_valid)
            got = self.read_outputs() if out_valid else None
            if held is not None and (not out_valid or got != held):
                errors.append(f"output changed while stalled at cycle {cycle}")
            held = None
            if out_valid:
                if received >= sent:
                    errors.append(f"out_valid at cycle {cycle} without a pending input")
                elif ready:
                    if cycle - accepted_at[received] < self.latency:
                        errors.append(f"vector {received} came out after {cycle - accepted_at[received]} clocks, "
                                      f"less than the latency {self.latency}")
                    if p_out == 1.0 and cycle - accepted_at[received] != self.latency:
                        errors.append(f"vector {received} came out after {cycle - accepted_at[received]} clocks, "
                                      f"params.json says {self.latency}")
                    self.check(received, got)
                    received += 1
                else:
                    held = got
            await RisingEdge(dut.clk)
            cycle += 1
        if p_in == 1.0 and p_out == 1.0 and cycle != n + self.latency:
            errors.append(f"back-to-back took {cycle} cycles, expected {n + self.latency}")
        return cycle, errors[:10]


@cocotb.test(skip=not PARAMS["clocked"])
async def back_to_back(dut):
    bench = Bench(dut)
    await bench.reset()
    start = time.perf_counter()
    cycles, errors = await bench.stream(1.0, 1.0, random.Random(bench.seed))
    bench.report("back_to_back", time.perf_counter() - start, cycles, errors)


@cocotb.test(skip=not PARAMS["clocked"])
async def random_stalls(dut):
    bench = Bench(dut)
    await bench.reset()
    start = time.perf_counter()
    cycles, errors = await bench.stream(0.7, 0.6, random.Random(bench.seed + 1))
    bench.report("random_stalls", time.perf_counter() - start, cycles, errors)


@cocotb.test(skip=PARAMS["clocked"])
async def combinational(dut):
    bench = Bench(dut)
    rng = random.Random(bench.seed)
    errors = []
    start = time.perf_counter()
    for i, word in enumerate(bench.packed):
        ready = rng.random() < 0.5
        dut.in_codes.value = word
        dut.in_valid.value = 1
        dut.out_ready.value = int(ready)
        await Timer(1, unit="ns")
        if not high(dut.out_valid) or high(dut.in_ready) != ready:
            errors.append(f"vector {i}: combinational handshake wrong (out_valid must follow in_valid, "
                          f"in_ready out_ready)")
        bench.check(i, bench.read_outputs())
    bench.report("combinational", time.perf_counter() - start, len(bench.packed), errors[:10])
