// Compiles contracts/src and contracts/test with solc-js (standard JSON, legacy pipeline + optimizer)
// into committed artifacts: contracts/artifacts/<Contract>.json ({contractName, sourceName, abi,
// bytecode, deployedBytecode}) and contracts/artifacts/BUILD.json (compiler, settings and a sha256 per
// source, which a test compares against the sources to catch a forgotten rebuild).
//
// Usage: node contracts/build.mjs   (SOLCJS_MODULE may point at the solc package directory)
import { createRequire } from "node:module";
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const solc = require(process.env.SOLCJS_MODULE || "solc");

const SETTINGS = {
  evmVersion: "paris",
  optimizer: { enabled: true, runs: 200 },
  outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } },
};

function walk(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? walk(p) : e.name.endsWith(".sol") ? [p] : [];
  });
}

const files = [...walk(path.join(here, "src")), ...walk(path.join(here, "test"))].sort();
const sources = {};
const hashes = {};
for (const f of files) {
  const rel = path.relative(here, f).split(path.sep).join("/");
  const content = fs.readFileSync(f, "utf8");
  sources[rel] = { content };
  hashes[rel] = createHash("sha256").update(content).digest("hex");
}

const input = { language: "Solidity", sources, settings: SETTINGS };
function findImports(p) {
  const full = path.join(here, p);
  return fs.existsSync(full) ? { contents: fs.readFileSync(full, "utf8") } : { error: `not found: ${p}` };
}
const out = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
const errors = (out.errors || []).filter((e) => e.severity === "error");
for (const e of out.errors || []) {
  if (e.severity === "error") console.error(e.formattedMessage);
}
if (errors.length) process.exit(1);

const dest = path.join(here, "artifacts");
fs.mkdirSync(dest, { recursive: true });
// Unchanged artifacts keep their mtime: the Rust crate embeds them, and a rewrite would make
// cargo rebuild it on every run of the test command.
function writeIfChanged(file, text) {
  if (fs.existsSync(file) && fs.readFileSync(file, "utf8") === text) return;
  fs.writeFileSync(file, text);
}

const names = [];
for (const [sourceName, contracts] of Object.entries(out.contracts)) {
  for (const [name, c] of Object.entries(contracts)) {
    const artifact = {
      contractName: name,
      sourceName,
      abi: c.abi,
      bytecode: "0x" + c.evm.bytecode.object,
      deployedBytecode: "0x" + c.evm.deployedBytecode.object,
    };
    writeIfChanged(path.join(dest, `${name}.json`), JSON.stringify(artifact, null, 1) + "\n");
    names.push(name);
  }
}
const build = { compiler: `solc-js ${solc.version()}`, settings: SETTINGS, sources: hashes };
writeIfChanged(path.join(dest, "BUILD.json"), JSON.stringify(build, null, 1) + "\n");
// Artifacts of contracts that no longer exist go.
for (const f of fs.readdirSync(dest)) {
  if (f !== "BUILD.json" && !names.includes(f.replace(/\.json$/, ""))) {
    fs.rmSync(path.join(dest, f), { recursive: true, force: true });
  }
}
console.log(`compiled ${names.length} contracts with solc ${solc.version()} into ${path.relative(process.cwd(), dest)}`);
