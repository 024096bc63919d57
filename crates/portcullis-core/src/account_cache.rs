//! Accounts and roles recently read, kept in memory so that `GET /me`,
//! forward-auth and personal access tokens do not read them from the
//! database on every request.
//!
//! The contract says a role change shows in `GET /me` at once, so the cache
//! must never answer with what was true before a change:
//!
//! - This process forgets an account or the roles right after it changes
//!   them itself, before the request that changed them answers.
//! - Other processes sharing the database (other instances, the command
//!   line, SQL by hand) change rows whose triggers write the account-change
//!   feed; [`Feeds::follow_account_changes`](crate::services::Feeds::follow_account_changes)
//!   reads it every half second and forgets what it names.
//! - The cache answers only while that feed is being read: each successful
//!   read trusts it for [`TRUST_PER_READ`]. Once reads stop succeeding (the
//!   database is down, the upkeep loop stalls, or a process never reads the
//!   feed, like the command line) every lookup misses, callers read the
//!   database, and a down database fails closed as it did before. When
//!   trust lapses, everything is forgotten, since changes may have been
//!   missed meanwhile.
//! - A read of the database that raced a change must not put the old
//!   account back: each lookup that misses hands out a [`Ticket`], and the
//!   result of the read it was for is kept only if nothing was forgotten
//!   since the ticket was issued.
//! - As a last line of defence against a change that reaches the database
//!   without passing its triggers (they can be switched off), an entry is
//!   read again once it is [`MAX_AGE`] old (and forgotten when found older).
//! - The accounts are held in a bounded `quick_cache` (S3-FIFO): when full,
//!   the coldest entries make room, one at a time.
//! - Personal access tokens are kept beside their owner's account and count
//!   only while that very entry of the account is kept: forgetting an
//!   account (a change here, or the feed naming it) forgets its tokens too.
//!   Deleting or changing a token names its owner in the account-change
//!   feed (the store's triggers), and this process forgets the owner itself
//!   when it deletes one.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::roles::Role;
use crate::store::{AccountChanged, PersonalTokenRecord};
use crate::user::User;

/// How long one successful read of the change feed lets the cache answer.
/// The feed is read every 500 ms, so this rides out one slow read, and it
/// is the 1 second within which the contract has every instance see a
/// revocation.
pub(crate) const TRUST_PER_READ: Duration = Duration::from_secs(1);

/// How long an entry is used before it is read again, whatever the feed says.
const MAX_AGE: Duration = Duration::from_secs(60);

/// Accounts kept at most: about 300 bytes each, so about 15 MB when full.
/// When full, the coldest entries make room for new ones.
const CAPACITY: usize = 50_000;

/// Permission to remember what a read of the database returned, issued by a
/// lookup that missed.
#[derive(Debug, Clone, Copy)]
#[must_use]
pub(crate) struct Ticket(u64);

/// What a lookup found.
#[derive(Debug)]
pub(crate) enum Lookup<T> {
    Hit(Arc<T>),
    /// Read the database, then hand the result back with this ticket.
    Miss(Ticket),
}

/// See the module documentation.
#[derive(Debug)]
pub(crate) struct AccountCache {
    state: Mutex<State>,
}

impl Default for AccountCache {
    fn default() -> Self {
        Self::with_capacity(CAPACITY)
    }
}

struct State {
    users: quick_cache::unsync::Cache<Uuid, Entry<User>>,
    personal_tokens: quick_cache::unsync::Cache<Uuid, PersonalTokenEntry>,
    roles: Option<Entry<Vec<Role>>>,
    /// Counts every forgetting; a ticket from an earlier count is void.
    generation: u64,
    /// Until when lookups may hit; `None` until the feed has been read.
    trusted_until: Option<Instant>,
}

impl fmt::Debug for State {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("State")
            .field("users", &self.users.len())
            .field("personal_tokens", &self.personal_tokens.len())
            .field("roles", &self.roles.is_some())
            .field("generation", &self.generation)
            .field("trusted_until", &self.trusted_until)
            .finish()
    }
}

/// A value and when it was read from the database.
#[derive(Debug)]
struct Entry<T> {
    value: Arc<T>,
    read_at: Instant,
}

impl<T> Entry<T> {
    fn new(value: &Arc<T>) -> Self {
        Self {
            value: Arc::clone(value),
            read_at: Instant::now(),
        }
    }

    fn is_too_old(&self) -> bool {
        self.read_at.elapsed() >= MAX_AGE
    }
}

/// A personal access token, and the entry of its owner's account it was
/// kept with: it counts only while that same entry is kept.
#[derive(Debug)]
struct PersonalTokenEntry {
    token: Arc<PersonalTokenRecord>,
    owner: Arc<User>,
}

/// A personal access token found in the cache, with its owner's account.
#[derive(Debug)]
pub(crate) struct CachedPersonalToken {
    pub(crate) token: Arc<PersonalTokenRecord>,
    pub(crate) owner: Arc<User>,
}

impl AccountCache {
    fn with_capacity(capacity: usize) -> Self {
        Self {
            state: Mutex::new(State {
                users: quick_cache::unsync::Cache::new(capacity),
                personal_tokens: quick_cache::unsync::Cache::new(capacity),
                roles: None,
                generation: 0,
                trusted_until: None,
            }),
        }
    }

    pub(crate) fn user(&self, id: Uuid) -> Lookup<User> {
        let mut state = self.lock();
        let found = state.users.get(&id).map(|entry| state.answer(entry));
        match found {
            Some(Some(user)) => Lookup::Hit(user),
            Some(None) => {
                if state.users.get(&id).is_some_and(Entry::is_too_old) {
                    state.users.remove(&id);
                }
                Lookup::Miss(state.ticket())
            }
            None => Lookup::Miss(state.ticket()),
        }
    }

    /// Keeps `user`, read from the database after `ticket` was issued, unless
    /// anything was forgotten since.
    pub(crate) fn remember_user(&self, ticket: Ticket, user: User) -> Arc<User> {
        let user = Arc::new(user);
        let mut state = self.lock();
        if ticket.0 == state.generation {
            state.users.insert(user.id, Entry::new(&user));
        }
        user
    }

    /// A personal access token by id, with its owner's account, while that
    /// account's entry is the one the token was kept with.
    pub(crate) fn personal_token(&self, id: Uuid) -> Lookup<CachedPersonalToken> {
        let state = self.lock();
        let found = state.personal_tokens.get(&id).and_then(|entry| {
            let owner = state.users.get(&entry.token.user_id)?;
            let owner = state
                .answer(owner)
                .filter(|owner| Arc::ptr_eq(owner, &entry.owner))?;
            Some(CachedPersonalToken {
                token: Arc::clone(&entry.token),
                owner,
            })
        });
        match found {
            Some(found) => Lookup::Hit(Arc::new(found)),
            None => Lookup::Miss(state.ticket()),
        }
    }

    /// Keeps `token`, read from the database after `ticket` was issued,
    /// with `owner`, its owner's account as this cache holds it now, unless
    /// anything was forgotten since the ticket or the cache holds another
    /// entry of the account.
    pub(crate) fn remember_personal_token(
        &self,
        ticket: Ticket,
        token: PersonalTokenRecord,
        owner: &Arc<User>,
    ) {
        let mut state = self.lock();
        let owner_kept = state
            .users
            .peek(&token.user_id)
            .is_some_and(|entry| Arc::ptr_eq(&entry.value, owner));
        if ticket.0 == state.generation && owner_kept {
            state.personal_tokens.insert(
                token.id,
                PersonalTokenEntry {
                    token: Arc::new(token),
                    owner: Arc::clone(owner),
                },
            );
        }
    }

    pub(crate) fn roles(&self) -> Lookup<Vec<Role>> {
        let state = self.lock();
        match state.roles.as_ref().and_then(|entry| state.answer(entry)) {
            Some(roles) => Lookup::Hit(roles),
            None => Lookup::Miss(state.ticket()),
        }
    }

    /// Keeps every role, as read after `ticket` was issued, unless anything
    /// was forgotten since.
    pub(crate) fn remember_roles(&self, ticket: Ticket, roles: Vec<Role>) -> Arc<Vec<Role>> {
        let roles = Arc::new(roles);
        let mut state = self.lock();
        if ticket.0 == state.generation {
            state.roles = Some(Entry::new(&roles));
        }
        roles
    }

    /// Accounts kept now, for monitoring.
    pub(crate) fn accounts_kept(&self) -> usize {
        self.lock().users.len()
    }

    /// Personal access tokens kept now, for monitoring.
    pub(crate) fn personal_tokens_kept(&self) -> usize {
        self.lock().personal_tokens.len()
    }

    pub(crate) fn forget_user(&self, id: Uuid) {
        let mut state = self.lock();
        state.generation += 1;
        state.users.remove(&id);
    }

    pub(crate) fn forget_roles(&self) {
        let mut state = self.lock();
        state.generation += 1;
        state.roles = None;
    }

    /// Applies one successful read of the change feed, which started at
    /// `read_started` (this process's clock), and trusts the cache for
    /// [`TRUST_PER_READ`] after it. If trust had lapsed, forgets everything
    /// first: changes may have gone unread meanwhile.
    pub(crate) fn apply_feed(&self, changes: &[AccountChanged], read_started: Instant) {
        let mut state = self.lock();
        let lapsed = !state.is_trusted();
        if lapsed || changes.contains(&AccountChanged::Everything) {
            state.users.clear();
            state.personal_tokens.clear();
            state.roles = None;
        }
        for change in changes {
            match change {
                AccountChanged::User(id) => {
                    state.users.remove(id);
                }
                AccountChanged::Roles => state.roles = None,
                AccountChanged::Everything => {}
            }
        }
        // Any change named voids the tickets out, cached or not: a read in
        // flight may have returned what was true before it.
        if lapsed || !changes.is_empty() {
            state.generation += 1;
        }
        state.trusted_until = Some(read_started + TRUST_PER_READ);
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    fn is_trusted(&self) -> bool {
        self.trusted_until
            .is_some_and(|until| Instant::now() < until)
    }

    /// The value of `entry`, if the cache may answer with it now.
    fn answer<T>(&self, entry: &Entry<T>) -> Option<Arc<T>> {
        (self.is_trusted() && !entry.is_too_old()).then(|| Arc::clone(&entry.value))
    }

    fn ticket(&self) -> Ticket {
        Ticket(self.generation)
    }
}

#[cfg(test)]
mod tests {
    use time::OffsetDateTime;

    use super::*;
    use crate::email::Email;

    fn user(email: &str) -> User {
        User {
            id: Uuid::now_v7(),
            email: Email::parse(email).unwrap(),
            name: None,
            roles: vec![],
            disabled: false,
            email_verified: false,
            created_at: OffsetDateTime::UNIX_EPOCH,
        }
    }

    fn trusted() -> AccountCache {
        let cache = AccountCache::default();
        cache.apply_feed(&[], Instant::now());
        cache
    }

    fn fill(cache: &AccountCache, user: User) {
        let Lookup::Miss(ticket) = cache.user(user.id) else {
            panic!("expected a miss");
        };
        cache.remember_user(ticket, user);
    }

    #[test]
    fn remembers_and_forgets_an_account() {
        let cache = trusted();
        let ada = user("ada@example.com");
        fill(&cache, ada.clone());
        assert!(matches!(cache.user(ada.id), Lookup::Hit(hit) if *hit == ada));
        cache.forget_user(ada.id);
        assert!(matches!(cache.user(ada.id), Lookup::Miss(_)));
    }

    #[test]
    fn a_read_that_raced_a_change_is_not_kept() {
        let cache = trusted();
        let ada = user("ada@example.com");
        let Lookup::Miss(ticket) = cache.user(ada.id) else {
            panic!("expected a miss");
        };
        cache.forget_user(ada.id);
        cache.remember_user(ticket, ada.clone());
        assert!(matches!(cache.user(ada.id), Lookup::Miss(_)));

        // The same when the change comes through the feed, cached or not.
        let Lookup::Miss(ticket) = cache.user(ada.id) else {
            panic!("expected a miss");
        };
        cache.apply_feed(&[AccountChanged::User(ada.id)], Instant::now());
        cache.remember_user(ticket, ada.clone());
        assert!(matches!(cache.user(ada.id), Lookup::Miss(_)));

        let Lookup::Miss(ticket) = cache.roles() else {
            panic!("expected a miss");
        };
        cache.apply_feed(&[AccountChanged::Roles], Instant::now());
        let Lookup::Miss(stale) = cache.roles() else {
            panic!("expected a miss");
        };
        cache.remember_roles(ticket, vec![]);
        assert!(matches!(cache.roles(), Lookup::Miss(_)));
        cache.remember_roles(stale, vec![]);
        assert!(matches!(cache.roles(), Lookup::Hit(_)));
    }

    #[test]
    fn the_feed_forgets_what_it_names_and_only_that() {
        let cache = trusted();
        let (ada, bob) = (user("ada@example.com"), user("bob@example.com"));
        fill(&cache, ada.clone());
        fill(&cache, bob.clone());
        let Lookup::Miss(ticket) = cache.roles() else {
            panic!("expected a miss");
        };
        cache.remember_roles(ticket, vec![]);
        cache.apply_feed(&[AccountChanged::User(ada.id)], Instant::now());
        assert!(matches!(cache.user(ada.id), Lookup::Miss(_)));
        assert!(matches!(cache.user(bob.id), Lookup::Hit(_)));
        assert!(matches!(cache.roles(), Lookup::Hit(_)));
        cache.apply_feed(&[AccountChanged::Roles], Instant::now());
        assert!(matches!(cache.roles(), Lookup::Miss(_)));
        assert!(matches!(cache.user(bob.id), Lookup::Hit(_)));
        cache.apply_feed(&[AccountChanged::Everything], Instant::now());
        assert!(matches!(cache.user(bob.id), Lookup::Miss(_)));
    }

    #[test]
    fn nothing_hits_until_the_feed_is_read_or_once_it_stops_being_read() {
        let cache = AccountCache::default();
        let ada = user("ada@example.com");
        fill(&cache, ada.clone());
        assert!(matches!(cache.user(ada.id), Lookup::Miss(_)));

        let long_ago = Instant::now()
            .checked_sub(TRUST_PER_READ * 2)
            .expect("the clock runs long enough");
        cache.apply_feed(&[], long_ago);
        fill(&cache, ada.clone());
        assert!(matches!(cache.user(ada.id), Lookup::Miss(_)));

        // Trust lapsed: the next read forgets everything, even what it does not name.
        cache.apply_feed(&[], Instant::now());
        assert!(matches!(cache.user(ada.id), Lookup::Miss(_)));
        fill(&cache, ada.clone());
        assert!(matches!(cache.user(ada.id), Lookup::Hit(_)));
    }

    #[test]
    fn a_full_cache_makes_room_by_evicting_cold_entries_not_everything() {
        let capacity = 1_000;
        let cache = AccountCache::with_capacity(capacity);
        cache.apply_feed(&[], Instant::now());
        let hot: Vec<User> = (0..50)
            .map(|n| user(&format!("hot{n}@example.com")))
            .collect();
        for hot_user in &hot {
            fill(&cache, hot_user.clone());
        }
        let mut previous_size = cache.lock().users.len();
        for n in 0..5 * capacity {
            fill(&cache, user(&format!("user{n}@example.com")));
            if n % 10 == 0 {
                for hot_user in &hot {
                    assert!(
                        matches!(cache.user(hot_user.id), Lookup::Hit(_)),
                        "a hot account was evicted after {n} insertions"
                    );
                }
            }
            let size = cache.lock().users.len();
            assert!(size <= capacity, "{size} entries");
            assert!(
                size + 2 >= previous_size,
                "{previous_size} then {size} entries"
            );
            previous_size = size;
        }
    }

    #[test]
    fn an_entry_too_old_is_read_again_and_forgotten() {
        let cache = trusted();
        let ada = user("ada@example.com");
        let Lookup::Miss(ticket) = cache.user(ada.id) else {
            panic!("expected a miss");
        };
        let long_ago = Instant::now()
            .checked_sub(MAX_AGE)
            .expect("the clock runs long enough");
        let mut state = cache.lock();
        assert_eq!(ticket.0, state.generation);
        state.users.insert(
            ada.id,
            Entry {
                value: Arc::new(ada.clone()),
                read_at: long_ago,
            },
        );
        drop(state);
        assert!(matches!(cache.user(ada.id), Lookup::Miss(_)));
        assert!(cache.lock().users.get(&ada.id).is_none(), "forgotten");
    }
}
