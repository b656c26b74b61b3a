/**
 * One hostile mix of `npm run loadtest`, in its own process: `loadtest-attacker.ts <mix> <port>
 * [ids file]`. It prints `ready` once the attack runs, keeps it up until its standard input ends,
 * then prints what the attack saw as one line of JSON and exits.
 */
import { readFileSync } from 'node:fs';
import { MIXES, startAttack, type MixName } from './loadtest-attacks.ts';

const [name, port, idsFile] = process.argv.slice(2);
if (!MIXES.includes(name as MixName) || !port)
  throw new Error(`usage: loadtest-attacker.ts <${MIXES.join('|')}> <port> [ids file]`);
const ids = idsFile ? (JSON.parse(readFileSync(idsFile, 'utf8')) as string[]) : [];
const attack = startAttack(name as MixName, Number(port), ids);
process.stdout.write('ready\n');
process.stdin.resume();
process.stdin.on('end', () => {
  void attack.stop().then((figures) => {
    process.stdout.write(`${JSON.stringify(figures)}\n`);
    process.exit(0);
  });
});
