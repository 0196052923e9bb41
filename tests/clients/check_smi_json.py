# SPDX-License-Identifier: MIT
"""Checks accel-smi --json against the fixture's devices while vdnn-load runs.

    check_smi_json.py OUTPUT_JSON LOAD_PID

One object with "devices" (minimal, minimal, vdnn, vdsp in minor order, as serve_fixture.sh
serves them) and "errors" (empty); every device with identity, status, reset_count, memory,
engines, sensors and clients of the right types; vdnn's client list has vdnn-load (pid, comm,
client name, compute node, engine time, its 4 MiB of dram) and not accel-smi's own file.
"""
import json
import sys


def fail(msg):
    print("check_smi_json: FAIL:", msg)
    sys.exit(1)


def expect(cond, msg):
    if not cond:
        fail(msg)


def main():
    path, load_pid = sys.argv[1], int(sys.argv[2])
    with open(path, encoding="utf-8") as f:
        text = f.read()
    doc = json.loads(text)
    expect(text.count("\n") == 1 and text.endswith("}\n"), "stdout is not exactly one object and a newline")
    expect(isinstance(doc, dict), "the top level is not an object")
    expect(isinstance(doc.get("devices"), list), "no devices list")
    expect(doc.get("errors") == [], f"errors: {doc.get('errors')}")
    drivers = [d["identity"]["driver"] for d in doc["devices"]]
    expect(drivers == ["minimal", "minimal", "vdnn", "vdsp"], f"drivers {drivers}")
    expect([d["minor"] for d in doc["devices"]] == [0, 1, 2, 3], "minors")
    for d in doc["devices"]:
        for key in ("identity", "status", "reset_count", "memory", "engines", "sensors", "clients", "node", "source"):
            expect(key in d, f"device {d.get('minor')} has no {key}")
        expect(d["status"] == "operational", f"device {d['minor']} status {d['status']}")
        expect(isinstance(d["reset_count"], int) and d["reset_count"] >= 0, "reset_count")
        expect(d["node"].endswith(f"/accel/accel_controlD{d['minor']}"), "not read through the monitor node")
        expect(d["source"] == "info", "source")
        expect(isinstance(d["clients"], list), f"device {d['minor']}: clients is {d['clients']!r}")
        expect(isinstance(d["sensors"], list), f"device {d['minor']}: sensors is {d['sensors']!r}")
        for s in d["sensors"]:
            expect(set(s) >= {"name", "file", "label", "value", "text"}, f"sensor keys {sorted(s)}")
        for e in d["engines"]:
            expect(set(e) >= {"id", "name", "instances", "busy_ns", "utilisation"}, f"engine keys {sorted(e)}")
            u = e["utilisation"]
            expect(u is None or 0 <= u <= 100, f"utilisation {u}")
        for r in d["memory"]:
            expect(not r["name"].startswith("cycles-"), f"device {d['minor']}: region {r['name']} (an engine's cycles)")
            expect(set(r) >= {"id", "name", "kind", "total", "used"}, f"region keys {sorted(r)}")
            expect(r["used"] is None or 0 <= r["used"] <= r["total"], f"region {r['name']} used {r['used']}")

    vdnn = doc["devices"][2]
    expect({e["name"] for e in vdnn["engines"]} == {"compute", "dma"}, "vdnn's engines")
    expect({r["name"] for r in vdnn["memory"]} >= {"sram", "dram"}, "vdnn's regions")
    dram = next(r for r in vdnn["memory"] if r["name"] == "dram")
    expect(dram["used"] >= 4 << 20, f"dram used {dram['used']} (vdnn-load holds 4 MiB)")
    dma = next(e for e in vdnn["engines"] if e["name"] == "dma")
    expect(dma["busy_ns"] > 0 and dma["utilisation"] is not None and dma["utilisation"] > 0, f"dma {dma}")

    mine = [c for c in vdnn["clients"] if c["pid"] == load_pid]
    expect(len(mine) == 1, f"vdnn-load (pid {load_pid}) among vdnn's clients: {vdnn['clients']}")
    c = mine[0]
    expect(c["comm"] == "vdnn-load" and c["name"] == "vdnn-load", f"comm/name {c['comm']!r}/{c['name']!r}")
    expect(c["node"] == "compute", f"node {c['node']}")
    expect(isinstance(c["client_id"], int) and c["client_id"] > 0, "client_id")
    busy = {e["name"]: e for e in c["engines"]}
    expect(busy.get("dma", {}).get("busy_ns", 0) > 0, f"vdnn-load's dma time {c['engines']}")
    mem = {m["region"]: m for m in c["memory"]}
    # Regions are the device's and host memory ("memory", fdinfo's name for it); vdnn's fdinfo
    # also has drm-total-cycles-<engine>, which is no region.
    expect(set(mem) <= {r["name"] for r in vdnn["memory"]} | {"memory"}, f"vdnn-load's regions {sorted(mem)}")
    expect(mem.get("dram", {}).get("total") == 4 << 20, f"vdnn-load's dram {c['memory']}")
    # accel-smi's own monitor file is not listed.
    expect(all(x["comm"] != "accel-smi" for d in doc["devices"] for x in d["clients"]), "accel-smi lists itself")
    print("check_smi_json: ok")


if __name__ == "__main__":
    main()
