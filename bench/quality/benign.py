"""Benign traffic of realistic sites, written for evaluation only (nothing here is shared with
the training data or its generator): many directory and file names, static assets, query
parameters and form bodies in several languages, JSON APIs, cookies and referrers, and a crawler
log. Each site is a different kind of application, so a detector that learned one site's
vocabulary shows it on the others."""
import base64, json, random, string, urllib.parse
import uuid as uuidlib

WORDS = ("about account admin-guide analytics archive article assets audio backup-policy basket billing blog board "
         "calendar campaign careers cart catalog category checkout city classic comments community config-help contact "
         "content contract coupons customer dashboard data deals delivery design developer docs download downloads "
         "editor events explore export faq features feed files finance forum gallery gift guides health help history "
         "home images import include-list index info insights install invoice jobs kitchen knowledge labs language "
         "legal library lib license live login logout mail maps media members menu messages mobile modules music news "
         "newsletter notes offers orders outdoor packages pages partners payment people photos plans plugins policy "
         "portal press pricing print privacy products profile projects promo public questions recipes register "
         "release reports resources returns reviews rss sale sales scripts search security services settings share "
         "shipping shop sitemap software solutions sports static status store stories styles subscribe support "
         "system tags team templates terms themes tickets tools topics tracking training travel tutorials updates "
         "upload uploads user users vendor video videos weather webinars wiki widgets windows-tips wishlist women "
         "men kids work workshops").split()
LANG_QUERIES = ["red running shoes", "men's jacket", "don't starve", "o'reilly books", "\"exact phrase\" search",
                "café crème", "crème brûlée recette", "Größe 42 Schuhe", "Straße und Hausnummer", "niño juguetes",
                "canción de cuna", "фотоаппарат купить", "новости спорта", "北京 天气", "手机壳", "東京 ホテル",
                "كتاب الطبخ", "مدينة الرياض", "תל אביב", "ψάρια", "İstanbul otel", "pão de queijo", "smörgåsbord",
                "50% off", "c++ tutorial", "c# vs java", "node.js & express", "a < b comparison", "1/2 cup sugar",
                "5 x 7 frame", "#hashtag trends", "email@example.com", "select a plan", "union station hours",
                "drop shipping", "insert coin", "update firmware", "delete account", "where is my order",
                "order by date", "table lamp", "script writing course", "alert bracelet", "onload event javascript",
                "/etc/hosts explained", "cmd prompt tips", "bash scripting basics", "php tutorial",
                "java programming", "select * from tutorial", "1=1 puzzle", "or else", "and then there were none"]
FIRST = ["anna", "bob", "chen", "dmitri", "elif", "fatima", "gabriel", "hiro", "ines", "jamal", "kofi", "lena",
         "mateo", "noor", "olga", "pierre", "quinn", "raj", "sara", "tomas", "uma", "viktor", "wei", "ximena", "yusuf", "zoe"]
LAST = ["o'brien", "d'angelo", "smith", "müller", "garcía", "nguyen", "kowalski", "ivanov", "tanaka", "haddad", "o'neil"]
UAS = ["Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/121.0.0.0 Safari/537.36",
       "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15",
       "Mozilla/5.0 (X11; Linux x86_64; rv:122.0) Gecko/20100101 Firefox/122.0",
       "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
       "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/121.0 Mobile Safari/537.36",
       "curl/8.5.0", "python-requests/2.31.0", "okhttp/4.12.0", "Apache-HttpClient/4.5.14 (Java/17)"]


def q(value):
    return urllib.parse.quote_plus(value)


def slug(rng, n=3):
    return "-".join(rng.choice(WORDS) for _ in range(rng.randint(1, n)))


def token(rng, n=24, alphabet=string.ascii_letters + string.digits):
    return "".join(rng.choice(alphabet) for _ in range(n))


def jwt(rng):
    def part(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()
    return part({"alg": "HS256", "typ": "JWT"}) + "." + part({"sub": str(rng.randint(1, 10**6)), "iat": 1700000000 + rng.randint(0, 10**7)}) + "." + token(rng, 43, string.ascii_letters + string.digits + "-_")


def cookies(rng):
    jar = ["session=%s" % token(rng, 32), "_ga=GA1.2.%d.%d" % (rng.randint(10**8, 10**9), 1700000000 + rng.randint(0, 10**7))]
    if rng.random() < 0.5:
        jar.append("consent=%s" % q(json.dumps({"necessary": True, "analytics": rng.random() < 0.5})))
    if rng.random() < 0.3:
        jar.append("lang=%s" % rng.choice(["en-US", "fr-FR", "de-DE", "ja-JP", "ar-SA"]))
    if rng.random() < 0.2:
        jar.append("cart=%s" % base64.b64encode(json.dumps({"items": [rng.randint(1, 999)]}).encode()).decode())
    return "; ".join(jar)


def build(method, target, rng, host, extra=(), body=b"", content_type=None):
    lines = ["%s %s HTTP/1.1" % (method, target), "Host: " + host, "User-Agent: " + rng.choice(UAS),
             "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
             "Accept-Language: en-US,en;q=0.9", "Accept-Encoding: gzip, deflate, br"]
    if rng.random() < 0.7:
        lines.append("Cookie: " + cookies(rng))
    if rng.random() < 0.6:
        lines.append("Referer: " + rng.choice(["https://%s/" % host, "https://%s/%s" % (host, slug(rng)),
                                               "https://www.google.com/search?q=" + q(rng.choice(LANG_QUERIES)),
                                               "https://www.bing.com/search?q=" + q(rng.choice(WORDS)), "https://t.co/" + token(rng, 10)]))
    lines += ["%s: %s" % kv for kv in extra]
    if body:
        lines.append("Content-Type: " + (content_type or "application/x-www-form-urlencoded"))
        lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body


def static_asset(rng):
    folder = rng.choice(["static", "assets", "scripts", "js", "css", "styles", "lib", "vendor", "dist", "public",
                         "includes", "modules", "themes/classic", "wp-content/themes/astra", "wp-includes/js", "cgi-bin/../static"][:-1])
    name = rng.choice(["app", "main", "vendor", "runtime", "jquery.min", "bootstrap.bundle", "analytics", "admin",
                       "login", "polyfills", "chunk-" + token(rng, 8).lower(), "theme", "print", "editor", "cmd-palette", "shell"])
    ext = rng.choice([".js", ".css", ".js.map", ".woff2", ".svg", ".png", ".jpg", ".webp", ".ico", ".json", ".mjs"])
    target = "/%s/%s%s" % (folder, name, ext)
    if rng.random() < 0.5:
        target += "?v=" + rng.choice([token(rng, 8).lower(), "6.4.2", str(rng.randint(1, 400))])
    return target


class Site:
    def __init__(self, name, host, make):
        self.name = name
        self.host = host
        self.make = make

    def request(self, rng):
        return self.make(rng, self.host)


def shop(rng, host):
    r = rng.random()
    if r < 0.3:
        return build("GET", static_asset(rng), rng, host)
    if r < 0.45:
        return build("GET", "/products/%s-%d" % (slug(rng), rng.randint(1, 99999)), rng, host)
    if r < 0.6:
        params = [("page", str(rng.randint(1, 40))), ("sort", rng.choice(["price_asc", "price_desc", "newest", "rating"])),
                  ("color", rng.choice(["red", "navy", "black", "olive"])), ("size", rng.choice(["S", "M", "L", "42", "10.5"]))]
        return build("GET", "/category/%s?%s" % (slug(rng, 2), urllib.parse.urlencode(rng.sample(params, rng.randint(1, 4)))), rng, host)
    if r < 0.75:
        return build("GET", "/search?q=%s&lang=%s" % (q(rng.choice(LANG_QUERIES)), rng.choice(["en", "fr", "de", "es", "ru", "zh", "ar"])), rng, host)
    if r < 0.85:
        body = urllib.parse.urlencode({"sku": "%s-%d" % (token(rng, 2, string.ascii_uppercase), rng.randint(100, 999)), "qty": rng.randint(1, 5),
                                       "note": rng.choice(["", "gift wrap please", "leave at the door, it's fine", "call me @ 555-0100"])}).encode()
        return build("POST", "/cart/add", rng, host, body=body)
    if r < 0.93:
        body = json.dumps({"sku": "SKU-%d" % rng.randint(1, 10**5), "qty": rng.randint(1, 3), "options": {"gift": rng.random() < 0.3}}).encode()
        return build("POST", "/api/v1/cart/items", rng, host, [("Authorization", "Bearer " + jwt(rng))], body, "application/json")
    name = "%s %s" % (rng.choice(FIRST).title(), rng.choice(LAST).title())
    body = urllib.parse.urlencode({"name": name, "email": "%s@example.com" % rng.choice(FIRST), "address": "%d %s Street, Apt %d" % (rng.randint(1, 999), rng.choice(WORDS).title(), rng.randint(1, 40)),
                                   "comment": rng.choice(["Please deliver after 5pm.", "Ring twice; the bell's broken.", "N/A", "Fragile -- glass inside!"])}).encode()
    return build("POST", "/checkout?step=%s" % rng.choice(["shipping", "payment", "review"]), rng, host, body=body)


def blog(rng, host):
    r = rng.random()
    if r < 0.35:
        return build("GET", static_asset(rng), rng, host)
    if r < 0.55:
        return build("GET", "/%d/%02d/%s/" % (rng.randint(2015, 2026), rng.randint(1, 12), slug(rng, 5)), rng, host)
    if r < 0.62:
        return build("GET", "/tag/%s/" % slug(rng, 1), rng, host)
    if r < 0.72:
        return build("GET", "/?s=%s" % q(rng.choice(LANG_QUERIES)), rng, host)
    if r < 0.8:
        return build("GET", rng.choice(["/feed/", "/comments/feed/", "/sitemap.xml", "/robots.txt", "/favicon.ico", "/wp-json/wp/v2/posts?per_page=10&page=%d" % rng.randint(1, 9)]), rng, host)
    if r < 0.9:
        text = rng.choice(["Great post! I've been looking for this.", "Doesn't work for me :( any idea why?", "Thanks -- this saved my day.",
                           "Isn't it \"better\" to use the other approach?", "I <3 this recipe; added 1/2 tsp of salt & it was perfect.",
                           "In my experience a < b doesn't always hold, see the docs.", "What about Windows? cmd.exe behaves differently.",
                           "SELECT the right tool for the job, as they say.", "Use `npm install` then run the script."])
        body = urllib.parse.urlencode({"comment": text, "author": rng.choice(FIRST).title(), "email": "%s@example.org" % rng.choice(FIRST),
                                       "url": rng.choice(["", "https://%s.example.net/" % rng.choice(FIRST)]), "comment_post_ID": rng.randint(1, 5000)}).encode()
        return build("POST", "/wp-comments-post.php", rng, host, body=body)
    body = urllib.parse.urlencode({"action": rng.choice(["heartbeat", "load_more_posts", "get_cart_count"]), "_nonce": token(rng, 10).lower(), "page": rng.randint(1, 20)}).encode()
    return build("POST", "/wp-admin/admin-ajax.php", rng, host, body=body)


def saas(rng, host):
    r = rng.random()
    uid = str(uuidlib.UUID(int=rng.getrandbits(128)))
    auth = [("Authorization", "Bearer " + jwt(rng))]
    if r < 0.2:
        return build("GET", static_asset(rng), rng, host)
    if r < 0.4:
        return build("GET", "/api/v2/users/%s" % uid, rng, host, auth)
    if r < 0.55:
        body = json.dumps({"query": rng.choice(LANG_QUERIES), "filters": {"status": rng.choice(["open", "closed"]), "tags": rng.sample(WORDS, 2)},
                           "page": {"size": 50, "cursor": token(rng, 16)}}).encode()
        return build("POST", "/api/v2/search", rng, host, auth, body, "application/json")
    if r < 0.65:
        redirect = "https://app.example.com/callback?next=" + q("/" + slug(rng))
        return build("GET", "/oauth/authorize?client_id=%s&redirect_uri=%s&response_type=code&scope=openid+profile+email&state=%s" % (token(rng, 20), q(redirect), token(rng, 16)), rng, host)
    if r < 0.75:
        body = json.dumps({"query": "query($id: ID!) { user(id: $id) { name email projects(first: 10) { nodes { id title } } } }",
                           "variables": {"id": uid}}).encode()
        return build("POST", "/graphql", rng, host, auth, body, "application/json")
    if r < 0.85:
        return build("GET", "/export?format=%s&fields=name,email,created_at&from=2024-01-01&to=2024-12-31" % rng.choice(["csv", "xlsx", "json"]), rng, host, auth)
    if r < 0.92:
        return build("GET", "/download?file=%s" % q("report-%d-Q%d.pdf" % (rng.randint(2019, 2026), rng.randint(1, 4))), rng, host, auth)
    body = json.dumps({"event": "page_view", "url": "https://%s/%s" % (host, slug(rng)), "ts": 1700000000000 + rng.randint(0, 10**9),
                       "props": {"referrer": "https://www.google.com/", "screen": "1920x1080"}}).encode()
    return build("POST", "/collect", rng, host, [], body, "application/json")


def news(rng, host):
    r = rng.random()
    if r < 0.3:
        return build("GET", static_asset(rng), rng, host)
    if r < 0.6:
        params = {"utm_source": rng.choice(["twitter", "facebook", "newsletter", "google"]), "utm_medium": rng.choice(["social", "email", "cpc"]),
                  "utm_campaign": slug(rng, 2)}
        return build("GET", "/article/%s?%s" % (slug(rng, 6), urllib.parse.urlencode(params)), rng, host)
    if r < 0.7:
        return build("GET", "/video/%d?t=%d&autoplay=1" % (rng.randint(1, 10**6), rng.randint(0, 900)), rng, host)
    if r < 0.8:
        return build("GET", "/search?q=%s&section=%s" % (q(rng.choice(LANG_QUERIES)), rng.choice(["world", "tech", "sport", "culture"])), rng, host)
    if r < 0.9:
        return build("GET", "/pixel.gif?e=view&u=%s&ref=%s&w=%d" % (token(rng, 12), q("https://www.google.com/"), rng.choice([360, 1280, 1920])), rng, host)
    return build("GET", "/share?url=%s&title=%s" % (q("https://%s/article/%s" % (host, slug(rng, 4))), q(rng.choice(LANG_QUERIES))), rng, host)


SITES = [Site("shop", "shop.example.org", shop), Site("blog", "blog.example.net", blog),
         Site("saas", "app.example.com", saas), Site("news", "news.example.info", news)]

CRAWLERS = ["Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
            "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
            "Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)",
            "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
            "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
            "Twitterbot/1.0", "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
            "Mozilla/5.0 (compatible; DotBot/1.2; +https://opensiteexplorer.org/dotbot)", "Go-http-client/1.1", "Wget/1.21.3"]


def crawler_log(rng, count):
    """Crawlers and link checkers walking the sites: robots, sitemaps, feeds, old links, pages."""
    out = []
    for _ in range(count):
        site = rng.choice(SITES)
        target = rng.choice(["/robots.txt", "/sitemap.xml", "/sitemap_index.xml", "/feed/", "/", "/favicon.ico", "/ads.txt",
                             "/.well-known/security.txt", "/apple-touch-icon.png", "/%s/" % slug(rng), "/%s.html" % slug(rng),
                             "/%s?page=%d" % (slug(rng), rng.randint(1, 50)), "/amp/%s" % slug(rng, 4), "/index.php?p=%d" % rng.randint(1, 9000)])
        lines = ["GET %s HTTP/1.1" % target, "Host: " + site.host, "User-Agent: " + rng.choice(CRAWLERS), "Accept: */*"]
        if rng.random() < 0.3:
            lines.append("If-Modified-Since: Tue, 01 Oct 2024 10:00:00 GMT")
        out.append(("\r\n".join(lines) + "\r\n\r\n").encode())
    return out
