; Inno Setup script: installs dist\ndviewer (from `make bundle` run on Windows) for the current
; user, registers the .nwb ProgID with icon and "Open with", and a Start menu entry.
; Build: iscc packaging\windows\ndviewer.iss   (not yet tested on Windows: see packaging/README.md)

#define AppName "ndviewer"
#define AppVersion "0.1.0"
#define ProgId "ndviewer.nwb"

[Setup]
AppId={{6B1E8C55-2C3E-4C5B-9C9B-5B1D1F0E7A21}
AppName={#AppName}
AppVersion={#AppVersion}
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ChangesAssociations=yes
OutputBaseFilename=ndviewer-setup-{#AppVersion}
SourceDir=..\..
OutputDir=dist
Compression=lzma2
SolidCompression=yes
ArchitecturesInstallIn64BitMode=x64compatible

[Files]
Source: "dist\ndviewer\*"; DestDir: "{app}"; Flags: recursesubdirs ignoreversion

[Icons]
Name: "{group}\{#AppName}"; Filename: "{app}\ndviewer.exe"

[Registry]
; the ProgID: what a .nwb file is, its icon, and the command that opens it
Root: HKA; Subkey: "Software\Classes\{#ProgId}"; ValueType: string; ValueData: "Neurodata Without Borders file"; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\{#ProgId}\DefaultIcon"; ValueType: string; ValueData: "{app}\ndviewer.exe,0"
Root: HKA; Subkey: "Software\Classes\{#ProgId}\shell\open\command"; ValueType: string; ValueData: """{app}\ndviewer.exe"" ""%1"""
; .nwb -> the ProgID, and ndviewer among the "Open with" choices
Root: HKA; Subkey: "Software\Classes\.nwb"; ValueType: string; ValueData: "{#ProgId}"; Flags: uninsdeletevalue
Root: HKA; Subkey: "Software\Classes\.nwb\OpenWithProgids"; ValueType: string; ValueName: "{#ProgId}"; ValueData: ""; Flags: uninsdeletevalue
Root: HKA; Subkey: "Software\Classes\Applications\ndviewer.exe\SupportedTypes"; ValueType: string; ValueName: ".nwb"; ValueData: ""; Flags: uninsdeletekey
