"""Private helpers of `crmkit.serialization`: how problems are reported, the limits on
untrusted documents, and the strict collection hooks. Import the public names from
`crmkit.serialization`, never from here."""
