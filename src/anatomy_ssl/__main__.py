"""`python -m anatomy_ssl` runs the command-line tool."""

from anatomy_ssl.cli.app import main

main()
