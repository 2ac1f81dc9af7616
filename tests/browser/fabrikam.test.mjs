// Fabrikam's page, walked end to end in a real browser (tests/browser/walk.mjs says what is checked).
import {test} from 'node:test';
import {useBrowser, CONTOSO, FABRIKAM} from './lib.mjs';
import {walkCompany} from './walk.mjs';

const browser = useBrowser();

test('Fabrikam walk-through: zero console errors, zero failed requests', {timeout: 180000}, async () => {
	await walkCompany(browser(), {name: 'fabrikam', offset: FABRIKAM, other: 'contoso', otherOffset: CONTOSO});
});
