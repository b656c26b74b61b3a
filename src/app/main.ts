import { mount } from 'svelte';
import App from './App.svelte';
import { startOffline } from './offline.svelte.ts';

const target = document.getElementById('app');
if (!target) throw new Error('The page has no #app element.');
startOffline();
export default mount(App, { target });
