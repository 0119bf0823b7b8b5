/** Requests to the page's own server (the token travels in its HttpOnly cookie). */
export async function getJson<T>(path: string): Promise<T> {
  const r = await fetch(path, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
  if (!r.ok) throw new Error(`${r.status}: ${(await r.text()).trim()}`);
  return (await r.json()) as T;
}
