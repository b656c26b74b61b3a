import type { Command } from '../command.ts';
import { keygenCommand } from './keygen.ts';
import { vesselinfoCommand } from './vesselinfo.ts';
import { checkVesselinfoCommand } from './check-vesselinfo.ts';

/** Every `cib` command, in the order `cib --help` lists them. */
export const commands: Command[] = [keygenCommand, vesselinfoCommand, checkVesselinfoCommand];
