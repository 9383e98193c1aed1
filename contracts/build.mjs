// Compiles contracts/src, contracts/test and contracts/v0 (SDK v0.1.0's ABI, for `chain.sdk: "0.x"`) with solc-js (standard JSON, via-IR pipeline + optimizer)
// into committed artifacts: contracts/artifacts/<Contract>.json ({contractName, sourceName, abi,
// bytecode, deployedBytecode}) and contracts/artifacts/BUILD.json (compiler, settings and a sha256 per
// source, which a test compares against the sources to catch a forgotten rebuild).
//
// Usage: node contracts/build.mjs   (SOLCJS_MODULE may point at the solc package directory; about
// half a minute: via-IR is slow under solc-js)
import { createRequire } from "node:module";
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const solc = require(process.env.SOLCJS_MODULE || "solc");

// Ritual builds its SDK with via-IR and 1,000,000 optimizer runs: the runtime gas of deliveries is
// what matters. `infernet-sdk/` maps to src/ as an SDK user's remapping does to the SDK's src/, so
// that consumers written against Ritual's SDK compile here unchanged (see test/Doc*.sol).
const SETTINGS = {
  evmVersion: "paris",
  remappings: ["infernet-sdk/=src/"],
  viaIR: true,
  optimizer: { enabled: true, runs: 1_000_000 },
  outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } },
};

// Contracts whose deployment cost matters more than their runtime gas, compiled a second time with
// few runs. Every Wallet is created by WalletFactory.createWallet, where the code deposit (200 gas a
// byte) is most of the cost: 2.3 KB at 200 runs against 3.5 KB at 1,000,000 (about 234,000 gas less
// per wallet) for about 600 gas more on a proof-gated delivery. WalletFactory embeds Wallet's
// creation code, so both come from the same compilation.
const SIZE_OPTIMIZED = {
  sources: ["src/payments/WalletFactory.sol"],
  contracts: ["Wallet", "WalletFactory"],
  settings: { ...SETTINGS, optimizer: { enabled: true, runs: 200 } },
};

function walk(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? walk(p) : e.name.endsWith(".sol") ? [p] : [];
  });
}

const files = [...walk(path.join(here, "src")), ...walk(path.join(here, "test")), ...walk(path.join(here, "v0"))].sort();
const sources = {};
const hashes = {};
for (const f of files) {
  const rel = path.relative(here, f).split(path.sep).join("/");
  const content = fs.readFileSync(f, "utf8");
  sources[rel] = { content };
  hashes[rel] = createHash("sha256").update(content).digest("hex");
}

function findImports(p) {
  const full = path.join(here, p);
  return fs.existsSync(full) ? { contents: fs.readFileSync(full, "utf8") } : { error: `not found: ${p}` };
}
function compile(srcs, settings) {
  const input = { language: "Solidity", sources: srcs, settings };
  const out = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
  const errors = (out.errors || []).filter((e) => e.severity === "error");
  for (const e of errors) console.error(e.formattedMessage);
  if (errors.length) process.exit(1);
  return out;
}
const out = compile(sources, SETTINGS);
const small = compile(
  Object.fromEntries(SIZE_OPTIMIZED.sources.map((s) => [s, sources[s]])),
  SIZE_OPTIMIZED.settings,
);
for (const [sourceName, contracts] of Object.entries(small.contracts)) {
  for (const [name, c] of Object.entries(contracts)) {
    if (SIZE_OPTIMIZED.contracts.includes(name)) out.contracts[sourceName][name] = c;
  }
}

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
const build = {
  compiler: `solc-js ${solc.version()}`,
  settings: SETTINGS,
  sizeOptimized: { contracts: SIZE_OPTIMIZED.contracts, optimizer: SIZE_OPTIMIZED.settings.optimizer },
  sources: hashes,
};
writeIfChanged(path.join(dest, "BUILD.json"), JSON.stringify(build, null, 1) + "\n");
// Artifacts of contracts that no longer exist go.
for (const f of fs.readdirSync(dest)) {
  if (f !== "BUILD.json" && !names.includes(f.replace(/\.json$/, ""))) {
    fs.rmSync(path.join(dest, f), { recursive: true, force: true });
  }
}
console.log(`compiled ${names.length} contracts with solc ${solc.version()} into ${path.relative(process.cwd(), dest)}`);
