@echo off
rem Seattle DEMO installer for Windows. It installs nothing: it checks
rem seattle_repy\vesselinfo the way the node would and prints the vessels a real
rem install would create. Usage: install.bat [--dry-run]
setlocal
cd /d "%~dp0"
where py >nul 2>nul
if errorlevel 1 goto plainpython
py -3 seattle_repy\demo_install.py --platform windows %*
exit /b
:plainpython
python seattle_repy\demo_install.py --platform windows %*
exit /b
