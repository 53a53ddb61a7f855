// Compiles the Solidity sources with the pinned solc npm package and writes the artifacts the
// Python side loads (contracts/build/<Name>.json). `--check` compares instead of writing and
// exits 1 when a committed artifact differs from a fresh compile.
import { readFileSync, writeFileSync, mkdirSync, existsSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const solc = require("solc");

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.dirname(here);
const buildDir = path.join(here, "build");

const SOURCES = ["AjoSavings.sol", "TestToken.sol"];
const CONTRACTS = { "AjoSavings.sol": "AjoSavings", "TestToken.sol": "TestToken" };
const OPTIMIZER = { enabled: true, runs: 200 };
// Cancun: supported by every current node and anvil's default hardfork is newer.
const EVM_VERSION = "cancun";

function findImport(importPath) {
  const candidates = [path.join(here, importPath), path.join(root, "node_modules", importPath)];
  for (const candidate of candidates) {
    if (existsSync(candidate)) return { contents: readFileSync(candidate, "utf8") };
  }
  return { error: `not found: ${importPath} (run npm ci)` };
}

function compile() {
  const input = {
    language: "Solidity",
    sources: Object.fromEntries(
      SOURCES.map((file) => [file, { content: readFileSync(path.join(here, file), "utf8") }]),
    ),
    settings: {
      optimizer: OPTIMIZER,
      evmVersion: EVM_VERSION,
      // No metadata hash: the bytecode then depends only on the sources and settings.
      metadata: { bytecodeHash: "none" },
      outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } },
    },
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImport }));
  const errors = (output.errors || []).filter((e) => e.severity === "error");
  for (const e of output.errors || []) console.error(e.formattedMessage);
  if (errors.length) process.exit(2);

  const version = solc.version();
  const artifacts = {};
  for (const [file, name] of Object.entries(CONTRACTS)) {
    const contract = output.contracts[file][name];
    const artifact = {
      contractName: name,
      abi: contract.abi,
      bytecode: "0x" + contract.evm.bytecode.object,
      compiler: { version, optimizer: OPTIMIZER, evmVersion: EVM_VERSION },
    };
    artifacts[`${name}.json`] = JSON.stringify(artifact, null, 2) + "\n";
  }
  return artifacts;
}

const check = process.argv.includes("--check");
const artifacts = compile();
let differing = [];
for (const [file, text] of Object.entries(artifacts)) {
  const target = path.join(buildDir, file);
  const rel = path.relative(root, target);
  if (check) {
    const current = existsSync(target) ? readFileSync(target, "utf8") : null;
    if (current !== text) differing.push(rel);
  } else {
    mkdirSync(buildDir, { recursive: true });
    writeFileSync(target, text);
    console.log(`wrote ${rel}`);
  }
}
if (check) {
  if (differing.length) {
    console.error(
      `contract artifacts differ from a fresh compile: ${differing.join(", ")} ` +
        "(run npm run build:contracts and commit)",
    );
    process.exit(1);
  }
  console.log("contract artifacts match a fresh compile");
}
