# Prints, as one JSON document, what the image holds: the Node.js version,
# every package installed under the release's node_modules (nested ones
# too, read from their own package.json), and the OS packages dpkg has.
SBOM_ROOT=$(readlink -f {{q .Release}}) {{q .Node}} <<'JS'
const fs = require("fs"), path = require("path"), cp = require("child_process");
const root = process.env.SBOM_ROOT;
const out = { node: process.version, packages: [], debs: [] };
const byName = (a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
function license(j) {
  let l = j.license;
  if (l && typeof l === "object") l = l.type;
  if (!l && Array.isArray(j.licenses)) l = j.licenses.map((x) => (x && x.type) || x).join(" OR ");
  return typeof l === "string" ? l : "";
}
function pkg(dir) {
  let j;
  try { j = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")); } catch (e) { return; }
  out.packages.push({ path: path.relative(root, dir), name: String(j.name || ""), version: String(j.version || ""), license: license(j) });
  walk(path.join(dir, "node_modules"));
}
function walk(nm) {
  let entries;
  try { entries = fs.readdirSync(nm, { withFileTypes: true }).sort(byName); } catch (e) { return; }
  for (const e of entries) {
    if (e.name.startsWith(".")) continue;
    const p = path.join(nm, e.name);
    if (!e.name.startsWith("@")) { pkg(p); continue; }
    let scoped = [];
    try { scoped = fs.readdirSync(p, { withFileTypes: true }).sort(byName); } catch (e) {}
    for (const s of scoped) if (!s.name.startsWith(".")) pkg(path.join(p, s.name));
  }
}
walk(path.join(root, "node_modules"));
const d = cp.spawnSync("dpkg-query", ["-W", "-f", "${db:Status-Abbrev}\t${Package}\t${Version}\t${Architecture}\n"], { encoding: "utf8" });
for (const line of (d.stdout || "").split("\n")) {
  const f = line.split("\t");
  if (f.length === 4 && f[0].startsWith("ii")) out.debs.push({ name: f[1], version: f[2], arch: f[3] });
}
process.stdout.write(JSON.stringify(out));
JS
