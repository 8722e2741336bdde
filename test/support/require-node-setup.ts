// vitest's global setup, loaded before any test file: a Node older than package.json's engines.node stops here with
// one line saying what to install (scripts/require-node.ts). Not imported by vitest.config.ts itself: the config
// loader warns about extensionless imports, and the check's own imports are those.
import '../../scripts/require-node';

export default function requireNode(): void {}
