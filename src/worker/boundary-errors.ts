/**
 * Errors across the page's worker boundary keep their problems: Comlink sends a thrown Error as its
 * message, name and stack only, so a CibError (a refused base, a damaged installer) would reach
 * the page without the codes, places and sentences it shows. Both sides import this module, which
 * teaches Comlink's "throw" handler to carry a CibError's problems and to throw a CibError again on
 * the other side; every other thrown value goes the standard way.
 */
import { transferHandlers, type TransferHandler } from 'comlink';
import { CibError, type Problem } from '../core/problems.ts';

interface Thrown {
  value: unknown;
}

interface SentCibError {
  cibProblems: Problem[];
}

function isSentCibError(value: unknown): value is SentCibError {
  return (
    typeof value === 'object' &&
    value !== null &&
    Array.isArray((value as Partial<SentCibError>).cibProblems)
  );
}

const standard = transferHandlers.get('throw') as TransferHandler<Thrown, unknown> | undefined;
if (!standard) throw new Error('Comlink has no "throw" transfer handler to extend.');

const carryingProblems: TransferHandler<Thrown, unknown> = {
  canHandle: (value): value is Thrown => standard.canHandle(value),
  serialize(thrown) {
    if (thrown.value instanceof CibError) {
      const sent: SentCibError = { cibProblems: thrown.value.problems };
      return [sent, []];
    }
    return standard.serialize(thrown);
  },
  deserialize(sent) {
    if (isSentCibError(sent)) throw new CibError(sent.cibProblems);
    return standard.deserialize(sent);
  },
};

transferHandlers.set('throw', carryingProblems);
