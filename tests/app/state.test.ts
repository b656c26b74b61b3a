import { describe, expect, it } from 'vitest';
import { generateKeyPair } from '../../src/core/keygen.ts';
import { Builder, nameFromFileName, STORAGE_KEY } from '../../src/app/state.svelte.ts';
import type { PageConfig } from '../../src/app/page-config.ts';
import { RESERVED_KEY_FIXTURE } from '../support/tools.ts';

const settings: PageConfig = {
  reservedShare: 20,
  reservedKey: RESERVED_KEY_FIXTURE,
  defaultKeyBits: 2048,
  baseInstallersUrl: 'http://localhost/base-installers/',
  updateKeys: [],
  knownKeys: [],
};

/** A real Storage-shaped store in memory (localStorage does not exist in Node). */
function memoryStorage(): Storage {
  const items = new Map<string, string>();
  return {
    get length() {
      return items.size;
    },
    clear: () => items.clear(),
    getItem: (key) => items.get(key) ?? null,
    key: (index) => [...items.keys()][index] ?? null,
    removeItem: (key) => void items.delete(key),
    setItem: (key, value) => void items.set(key, value),
  };
}

function save(builder: Builder, storage: Storage) {
  storage.setItem(STORAGE_KEY, JSON.stringify(builder.snapshot()));
}

describe('the builder state', () => {
  it('starts with one vessel of the whole user share and no users', () => {
    const builder = new Builder(settings, memoryStorage());
    expect(builder.users).toEqual([]);
    expect(builder.vessels.map((v) => v.percentage)).toEqual([80]);
    expect(builder.problems.map((p) => [p.code, p.path])).toContainEqual([
      'vessel.owner.missing',
      'vessels[0].owner',
    ]);
  });

  it('keeps a generated private key out of storage unless the person opts in', async () => {
    const storage = memoryStorage();
    const builder = new Builder(settings, storage);
    const pair = await generateKeyPair(1024);
    builder.addUser({
      name: 'dave',
      keyText: pair.publicKey,
      privateKey: pair.privateKey,
      source: 'generated',
    });
    save(builder, storage);
    const d = pair.privateKey.split(' ')[0]!;
    expect(storage.getItem(STORAGE_KEY)).not.toContain(d);
    const reloaded = new Builder(settings, storage);
    expect(reloaded.users.map((u) => u.name)).toEqual(['dave']);
    expect(reloaded.lostPrivateKeys.map((u) => u.name)).toEqual(['dave']);

    builder.rememberPrivateKeys = true;
    save(builder, storage);
    expect(storage.getItem(STORAGE_KEY)).toContain(d);
    expect(new Builder(settings, storage).generatedKeys[0]?.privateKey).toBe(pair.privateKey);
  });

  it('requires private_keys.zip again when a new key is generated after saving', async () => {
    const builder = new Builder(settings, memoryStorage());
    const first = await generateKeyPair(1024);
    builder.addUser({
      name: 'dave',
      keyText: first.publicKey,
      privateKey: first.privateKey,
      source: 'generated',
    });
    expect(builder.mustSavePrivateKeys).toBe(true);
    builder.markPrivateKeysSaved();
    expect(builder.mustSavePrivateKeys).toBe(false);
    const second = await generateKeyPair(1024);
    builder.addUser({
      name: 'erin',
      keyText: second.publicKey,
      privateKey: second.privateKey,
      source: 'generated',
    });
    expect(builder.mustSavePrivateKeys).toBe(true);
  });

  it('refuses a malformed key with the core problem and flags duplicate names on the user', () => {
    const builder = new Builder(settings, memoryStorage());
    const refused = builder.addUser({ name: 'alex', keyText: 'INVALID', source: 'pasted' });
    expect(refused.some((p) => p.severity === 'error')).toBe(true);
    expect(builder.users).toHaveLength(0);
    builder.addUser({ name: 'alex', keyText: '12345 54321', source: 'pasted' });
    builder.addUser({ name: 'alex', keyText: '3 54321', source: 'pasted' });
    expect(builder.users[0]?.problems.map((p) => p.code)).toContain('key.public.weak');
    expect(
      builder.problems.filter((p) => p.code === 'user.name.duplicate').map((p) => p.path),
    ).toEqual(['users[1].name']);
  });

  it('assigns owners and users by id, so renaming a user renames it in every vessel', () => {
    const builder = new Builder(settings, memoryStorage());
    builder.addUser({ name: 'alex', keyText: '12345 54321', source: 'pasted' });
    builder.addUser({ name: 'bob', keyText: '3 54321', source: 'pasted' });
    builder.addVessel();
    const [one, two] = builder.vessels;
    builder.setOwner(one!.id, builder.users[0]!.id);
    builder.setOwner(two!.id, builder.users[1]!.id);
    builder.setVesselUser(one!.id, builder.users[1]!.id, true);
    builder.renameUser(builder.users[1]!.id, 'bobby');
    expect(builder.config.vessels).toEqual([
      { percentage: 70, owner: 'alex', users: ['bobby'] },
      { percentage: 10, owner: 'bobby', users: [] },
    ]);
    expect(builder.problems.filter((p) => p.severity === 'error')).toEqual([]);
    builder.removeUser(builder.users[1]!.id);
    expect(builder.config.vessels[1]).toEqual({ percentage: 10, users: [] });
  });

  it('gives a new vessel the unassigned share first, and takes 10% from the largest only when none is left', () => {
    const builder = new Builder(settings, memoryStorage());
    builder.setPercentage(builder.vessels[0]!.id, 50);
    builder.addVessel();
    expect(builder.vessels.map((v) => v.percentage)).toEqual([50, 30]);
    expect(builder.unassigned).toBe(0);
    builder.addVessel();
    expect(builder.vessels.map((v) => v.percentage)).toEqual([40, 30, 10]);
  });

  it('makes the first user the owner of a single vessel without one, and leaves later users alone', () => {
    const builder = new Builder(settings, memoryStorage());
    builder.addUser({ name: 'alex', keyText: '12345 54321', source: 'pasted' });
    expect(builder.config.vessels).toEqual([{ percentage: 80, owner: 'alex', users: [] }]);
    builder.addUser({ name: 'bob', keyText: '3 54321', source: 'pasted' });
    expect(builder.config.vessels[0]?.owner).toBe('alex');
    // The person can still change it.
    builder.setOwner(builder.vessels[0]!.id, builder.users[1]!.id);
    expect(builder.config.vessels[0]?.owner).toBe('bob');

    const two = new Builder(settings, memoryStorage());
    two.addVessel();
    two.addUser({ name: 'alex', keyText: '12345 54321', source: 'pasted' });
    expect(two.config.vessels.map((v) => v.owner)).toEqual([undefined, undefined]);
  });
});

describe('nameFromFileName', () => {
  it('drops the key extensions the old builder dropped', () => {
    expect(nameFromFileName('alex.publickey')).toBe('alex');
    expect(nameFromFileName('id_rsa.pub')).toBe('id_rsa');
    expect(nameFromFileName('bob.pem')).toBe('bob');
    expect(nameFromFileName('carl')).toBe('carl');
  });
});
