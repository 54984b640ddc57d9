import json, sys
topo = json.load(open(sys.argv[1]))
sx, sy = topo["transform"]["scale"]; tx, ty = topo["transform"]["translate"]
out = []
for arc in topo["arcs"]:
    x = y = 0; line = []
    for dx, dy in arc:
        x += dx; y += dy
        line.append([round(x * sx + tx, 2), round(y * sy + ty, 2)])
    # drop consecutive duplicates after rounding
    dedup = [line[0]] + [p for i, p in enumerate(line[1:], 1) if p != line[i-1]]
    if len(dedup) > 1: out.append(dedup)
json.dump({"source": "Natural Earth 1:110m Admin 0 country boundaries (public domain), via the npm package world-atlas 2.0.2 (ISC), countries-110m.json: every border and coastline arc, decoded to degrees [lon, lat] rounded to 0.01", "arcs": out}, open(sys.argv[2], "w"), separators=(",", ":"))
