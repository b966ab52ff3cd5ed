<?php
// Installs and configures the loopback test WordPress from PHP CLI (wp-cli is not in Debian).
// Usage: php install.php CREDENTIALS_FILE SITE_URL
// Idempotent: an installed site is left as it is; users, role, permalinks and application
// passwords are made to match, and application passwords already in CREDENTIALS_FILE are kept
// while they still work.
if ($argc !== 3) {
    fwrite(STDERR, "usage: php install.php CREDENTIALS_FILE SITE_URL\n");
    exit(2);
}
[$credentials_file, $site_url] = [$argv[1], rtrim($argv[2], '/')];
$parts = parse_url($site_url);
$_SERVER['WORDPRESS_CONFIG'] = 'igny8-test';
$_SERVER['HTTP_HOST'] = $parts['host'] . (isset($parts['port']) ? ':' . $parts['port'] : '');
$_SERVER['SERVER_NAME'] = $parts['host'];
$_SERVER['SERVER_PORT'] = $parts['port'] ?? 80;
$_SERVER['REQUEST_URI'] = '/';
$_SERVER['REQUEST_METHOD'] = 'GET';
define('WP_INSTALLING', true);
require '/usr/share/wordpress/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
require_once ABSPATH . 'wp-admin/includes/user.php';

const APP_PASSWORD_NAME = 'igny8-tests';
const ADMIN_LOGIN = 'igny8admin';
const NO_PUBLISH_LOGIN = 'igny8writer';
const NO_PUBLISH_ROLE = 'igny8_no_publish';

$previous = is_readable($credentials_file) ? (json_decode(file_get_contents($credentials_file), true) ?: []) : [];

// Login passwords carry punctuation, so they never look like application passwords (24 letters and
// digits): the tests use them to show that a login password is refused for publishing.
function random_secret(): string
{
    return wp_generate_password(12, false, false) . '-#' . wp_generate_password(10, false, false);
}

$installed_now = false;
if (!is_blog_installed()) {
    $admin_password = $previous['admin']['password'] ?? random_secret();
    $result = wp_install('IGNY8 test site', ADMIN_LOGIN, 'admin@igny8-wordpress.test', false, '', wp_slash($admin_password));
    if (is_wp_error($result)) {
        fwrite(STDERR, 'wp_install failed: ' . $result->get_error_message() . "\n");
        exit(1);
    }
    $installed_now = true;
}

update_option('siteurl', $site_url);
update_option('home', $site_url);
update_option('timezone_string', 'UTC');
update_option('blog_public', '0');
global $wp_rewrite;
if (get_option('permalink_structure') !== '/%postname%/') {
    $wp_rewrite->set_permalink_structure('/%postname%/');
}
flush_rewrite_rules(false);

// An editor that may not publish: edits, uploads and manages categories, but publish_* is missing.
$editor = get_role('editor');
$caps = $editor ? $editor->capabilities : ['read' => true, 'edit_posts' => true, 'upload_files' => true];
unset($caps['publish_posts'], $caps['publish_pages']);
remove_role(NO_PUBLISH_ROLE);
add_role(NO_PUBLISH_ROLE, 'Editor without publishing', $caps);

function ensure_user(string $login, string $email, string $role, ?string $password): array
{
    $user = get_user_by('login', $login);
    $password = ($password && !ctype_alnum($password)) ? $password : random_secret();
    if (!$user) {
        $id = wp_insert_user(['user_login' => $login, 'user_email' => $email, 'user_pass' => $password,
            'role' => $role, 'display_name' => $login]);
        if (is_wp_error($id)) {
            fwrite(STDERR, "creating $login failed: " . $id->get_error_message() . "\n");
            exit(1);
        }
        $user = get_user_by('id', $id);
    } else {
        if (!wp_check_password($password, $user->user_pass, $user->ID)) {
            wp_set_password($password, $user->ID);
        }
        if (!in_array($role, (array) $user->roles, true)) {
            $user->set_role($role);
        }
    }
    return [$user->ID, $password];
}

function ensure_app_password(int $user_id, ?string $known): string
{
    $items = WP_Application_Passwords::get_user_application_passwords($user_id);
    foreach ($items as $item) {
        if ($item['name'] === APP_PASSWORD_NAME && $known
            && wp_check_password(preg_replace('/[^a-z\d]/i', '', $known), $item['password'], $user_id)) {
            return $known;
        }
    }
    foreach ($items as $item) {
        if ($item['name'] === APP_PASSWORD_NAME) {
            WP_Application_Passwords::delete_application_password($user_id, $item['uuid']);
        }
    }
    $created = WP_Application_Passwords::create_new_application_password($user_id, ['name' => APP_PASSWORD_NAME]);
    if (is_wp_error($created)) {
        fwrite(STDERR, 'creating an application password failed: ' . $created->get_error_message() . "\n");
        exit(1);
    }
    return WP_Application_Passwords::chunk_password($created[0]);
}

[$admin_id, $admin_password] = ensure_user(ADMIN_LOGIN, 'admin@igny8-wordpress.test', 'administrator', $previous['admin']['password'] ?? null);
[$writer_id, $writer_password] = ensure_user(NO_PUBLISH_LOGIN, 'writer@igny8-wordpress.test', NO_PUBLISH_ROLE, $previous['no_publish']['password'] ?? null);

$credentials = [
    'url' => $site_url,
    'rest_url' => $site_url . '/wp-json/',
    'wordpress_version' => get_bloginfo('version'),
    'admin' => [
        'username' => ADMIN_LOGIN,
        'email' => 'admin@igny8-wordpress.test',
        'password' => $admin_password,
        'app_password' => ensure_app_password($admin_id, $previous['admin']['app_password'] ?? null),
    ],
    'no_publish' => [
        'username' => NO_PUBLISH_LOGIN,
        'email' => 'writer@igny8-wordpress.test',
        'role' => NO_PUBLISH_ROLE,
        'password' => $writer_password,
        'app_password' => ensure_app_password($writer_id, $previous['no_publish']['app_password'] ?? null),
    ],
];
$json = json_encode($credentials, JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES) . "\n";
if (!is_readable($credentials_file) || file_get_contents($credentials_file) !== $json) {
    $tmp = $credentials_file . '.tmp';
    file_put_contents($tmp, $json);
    chmod($tmp, 0600);
    rename($tmp, $credentials_file);
}
echo $installed_now ? "WordPress installed.\n" : "WordPress was already installed; settings checked.\n";
