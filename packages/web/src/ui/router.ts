import { useEffect, useState } from 'react';

/** Hash routes ('#/chats/3', '#/settings/chats/backups'): the back button works, no server routing. */
const read = () => window.location.hash.replace(/^#/, '') || '/';

export function useRoute(): [string, (to: string) => void] {
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const onChange = () => setRoute(read());
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return [
    route,
    (to: string) => {
      window.location.hash = to;
    },
  ];
}
